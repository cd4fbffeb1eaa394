"""Filling a marked section of a Markdown document with a benchmark's table, keeping the prose around it."""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The HTML comments that delimit the generated section `name` (e.g. "teacher")."""
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def fill_section(doc: Path, name: str, table: str) -> None:
    """Replace what stands between the `name` markers of `doc` with `table`."""
    start, end = markers(name)
    text = doc.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{doc} has no {start} ... {end} section to fill in")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")
