"""Filling a marked section of a Markdown document with a benchmark's table, keeping the prose around it.

A generated table sits between two HTML comments, `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`.
Most tables live in one document (`fill_section`). The results are split between a summary
(docs/results.md) and the lab notebook it summarises (docs/results/passes/), and the summary repeats a few
of the notebook's tables: `fill_sections` fills every copy of a section in such a set of documents, so the
copies cannot drift apart and a script need not know which page a table moved to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Where the experiments' tables are shown: the results summary and the notebook's pages.
RESULTS_DOCS = (REPO / "docs" / "results.md", REPO / "docs" / "results" / "passes")


def markers(name: str) -> tuple[str, str]:
    """The HTML comments that delimit the generated section `name` (e.g. "teacher")."""
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def _filled(text: str, name: str, table: str) -> str:
    """`text` with what stands between the `name` markers replaced by `table`."""
    start, end = markers(name)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{table}\n{end}{tail}"


def fill_section(doc: Path, name: str, table: str) -> None:
    """Replace what stands between the `name` markers of `doc` with `table`."""
    start, end = markers(name)
    text = doc.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{doc} has no {start} ... {end} section to fill in")
    doc.write_text(_filled(text, name, table), encoding="utf-8")


def markdown_files(places: Iterable[Path]) -> list[Path]:
    """The Markdown files among `places`: a file stands for itself, a folder for the .md files under it."""
    found: list[Path] = []
    for place in places:
        found.extend(sorted(place.rglob("*.md")) if place.is_dir() else [place])
    return found


def fill_sections(places: Iterable[Path], name: str, table: str) -> list[Path]:
    """Fill the `name` section in every Markdown file among `places` that shows it; return those files.

    Exits with a message when no file has the section, or when one has only one of its two markers."""
    places = list(places)
    start, end = markers(name)
    filled = []
    for doc in markdown_files(places):
        text = doc.read_text(encoding="utf-8")
        if start not in text and end not in text:
            continue
        if start not in text or end not in text:
            raise SystemExit(f"{doc} has only one of {start} and {end}: restore the other")
        doc.write_text(_filled(text, name, table), encoding="utf-8")
        filled.append(doc)
    if not filled:
        where = ", ".join(str(p) for p in places)
        raise SystemExit(f"no document in {where} has a {start} ... {end} section to fill in")
    return filled


def publish(report: Any, out: Path, table: str, doc: Path | None, name: str) -> None:
    """A benchmark's last step: its JSON report to `out`, its table printed and, when `doc` is given, put in
    the `name` section of `doc`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(table, flush=True)
    if doc is not None:
        fill_section(doc, name, table)
