"""The docs' settings tables, generated from the declarations: `python -m kd.settings_docs` rewrites them.

Each table sits between `<!-- settings:NAME:start -->` and `<!-- settings:NAME:end -->` in its page and is
`s2s.settings.markdown_table` of one settings class, so a flag, a variable or a default is written down in
one place only: its declaration. `--check` exits 1 (naming the stale tables) instead of writing;
tests/kd/test_settings_docs.py runs the same comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kd.stack.config import UpConfig
from s2s.settings import markdown_table
from s2s.teacher.client_settings import ClientSettings
from services.gateway.settings import GatewaySettings
from services.teacher.config import ServerConfig

REPO = Path(__file__).resolve().parents[1]
TABLES: dict[str, tuple[str, type, bool]] = {
    "teacher": ("docs/teacher.md", ServerConfig, True),
    "teacher-client": ("docs/teacher.md", ClientSettings, False),  # a library: its variables only
    "gateway": ("docs/gateway.md", GatewaySettings, True),
    "kd-up": ("docs/deploy.md", UpConfig, True),
}
"""Table name -> (the page it is in, relative to the repository; the settings class it lists; whether with
the flag column)."""


def table(name: str) -> str:
    """The table `name` as the declaration writes it."""
    _, cls, with_flags = TABLES[name]
    return markdown_table(cls, with_flags)


def markers(name: str) -> tuple[str, str]:
    return f"<!-- settings:{name}:start -->", f"<!-- settings:{name}:end -->"


def _span(text: str, name: str) -> tuple[int, int] | None:
    """Where the text between `name`'s markers starts and ends in a page, or None without both markers."""
    start, end = markers(name)
    if start not in text:
        return None
    begin = text.index(start) + len(start)
    stop = text.find(end, begin)
    return (begin, stop) if stop >= 0 else None


def current_table(text: str, name: str) -> str | None:
    """The table between `name`'s markers in a page's text, or None when the page has no such section."""
    span = _span(text, name)
    return None if span is None else text[span[0]:span[1]].strip("\n")


def stale_tables(root: Path = REPO) -> list[str]:
    """The names of the tables whose page lacks them or holds another text than the declaration's."""
    return [name for name, (page, _, _) in TABLES.items()
            if current_table((root / page).read_text(encoding="utf-8"), name) != table(name)]


def write_tables(root: Path = REPO) -> list[str]:
    """Rewrite every stale table in place (the prose around it kept); the names of those rewritten."""
    rewritten = []
    for name in stale_tables(root):
        page, cls, _ = TABLES[name]
        path = root / page
        text = path.read_text(encoding="utf-8")
        span = _span(text, name)
        if span is None:
            start, end = markers(name)
            raise SystemExit(f"{page} has no {start} ... {end} section for the {cls.__name__} table")
        path.write_text(f"{text[:span[0]]}\n{table(name)}\n{text[span[1]:]}", encoding="utf-8")
        rewritten.append(name)
    return rewritten


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kd.settings_docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale tables (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_tables()
        for name in stale:
            print(f"stale: the {name} table in {TABLES[name][0]}", file=sys.stderr)
        return 1 if stale else 0
    for name in write_tables():
        print(f"rewrote the {name} table in {TABLES[name][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
