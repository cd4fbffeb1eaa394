"""`python -m services.gateway --models DIR --port N`: run the translation gateway."""

from __future__ import annotations

import argparse
import logging
import sys

from s2s.errors import KDError
from services.gateway.server import add_arguments, serve, settings_from_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway",
                                     description="Serve exported students over REST (see docs/gateway.md).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(settings_from_args(args), args.log_level)
    except KDError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
