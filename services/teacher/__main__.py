"""`python -m services.teacher --model DIR --port N ...`: run a teacher server (see `--help`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from s2s.errors import KDError
from services.teacher.config import add_serve_arguments, config_from_args


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.teacher",
                                     description="Serve a Marian teacher over gRPC (kd.teacher.v1).")
    add_serve_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from services.teacher.server import serve

        return serve(config_from_args(args))
    except KDError as exc:
        print(f"teacher: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
