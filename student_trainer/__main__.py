"""`python -m student_trainer --recipe FILE [--set key=value ...] [--resume]` (also as a Ray job:
`ray job submit -- python -m student_trainer --recipe ...`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from s2s.errors import KDError
from student_trainer.cli import add_train_args, run_train


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and train; a `KDError` prints its message and exits 2 instead of a traceback."""
    parser = argparse.ArgumentParser(prog="python -m student_trainer",
                                     description="Train a student (or a teacher or baseline) from a recipe, on Ray.")
    add_train_args(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run_train(args)
    except KDError as exc:
        print(f"student_trainer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
