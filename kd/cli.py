"""`kd` entry point: discovers the subcommand modules in `kd.commands` and maps known errors to messages."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import kd.commands
from s2s.errors import KDError


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each `kd.commands.<name>` module adds its subcommands via `register`."""
    parser = argparse.ArgumentParser(
        prog="kd", description="Distil sequence-to-sequence teachers into small students, and serve them.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(kd.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"kd.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a `KDError` prints its message and exits 2 instead of a traceback."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KDError as exc:
        print(f"kd {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kd {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
