"""The results are a summary (docs/results.md) over a notebook (docs/results/passes/): the summary stays short,
its repeated tables agree with the notebook's, and every table the experiment scripts write has a place."""

from __future__ import annotations

import re
from pathlib import Path

from bench.doc_section import RESULTS_DOCS, markdown_files, markers
from experiments.protocol.plan import ARCHIVE, BASES, ROWS, STAGE2, stage2_folder

REPO = Path(__file__).resolve().parents[2]
SUMMARY = REPO / "docs" / "results.md"
PASSES = REPO / "docs" / "results" / "passes"
VERBATIM = "<!-- The notebook's text, unchanged from here but for its relative links, re-rooted to this folder. -->"
SECTION = re.compile(r"<!-- bench:(\S+?):start -->\n(.*?)\n<!-- bench:\1:end -->", re.S)


def sections(doc: Path) -> dict[str, str]:
    """Each generated section of `doc`: its name and its table."""
    return {m.group(1): m.group(2) for m in SECTION.finditer(doc.read_text(encoding="utf-8"))}


def notebook_sections() -> dict[str, str]:
    """Every generated section of the notebook's pages (each shown on one page only)."""
    found: dict[str, str] = {}
    for doc in markdown_files([PASSES]):
        for name, table in sections(doc).items():
            assert name not in found, f"the section {name} is on two notebook pages"
            found[name] = table
    return found


def test_the_summary_answers_first_in_about_300_lines() -> None:
    lines = SUMMARY.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 320, f"docs/results.md has {len(lines)} lines: keep the evidence in docs/results/passes/"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:2] == ["## What you get", "## What each method does here"]


def test_every_marker_is_paired_once_per_page() -> None:
    for doc in markdown_files(RESULTS_DOCS):
        text = doc.read_text(encoding="utf-8")
        for name in set(re.findall(r"<!-- bench:(\S+?):(?:start|end) -->", text)):
            start, end = markers(name)
            assert text.count(start) == text.count(end) == 1, f"{doc}: {name} is not marked once"
            assert text.index(start) < text.index(end), f"{doc}: {name} ends before it starts"


def test_the_summarys_tables_are_the_notebooks() -> None:
    notebook = notebook_sections()
    repeated = sections(SUMMARY)
    assert "protocol-pooled-nll-conv-b3+nll-conv-b4+nll-conv-b5" in repeated  # the verdict's evidence
    for name, table in repeated.items():
        assert name in notebook, f"the summary shows {name}, which no notebook page has"
        assert table == notebook[name], f"the summary's {name} differs from the notebook's"


def test_every_table_the_scripts_write_has_a_place() -> None:
    shown = set(notebook_sections())
    wanted = {"protocol-stage1", "compression", "nat", "data-stats"}
    for base in BASES:
        for recipe in STAGE2:
            folder = stage2_folder(base, recipe)
            if any(any(ARCHIVE.glob(f"{folder}-{row}-s*")) for row in ROWS):
                tag = folder.removeprefix("stage2-")
                wanted |= {f"protocol-stage2-{tag}", f"protocol-diagnostics-{tag}"}
    assert len(wanted) > 20 and not wanted - shown, f"no page has {sorted(wanted - shown)}"


def test_the_notebook_pages_are_marked_and_indexed() -> None:
    pages = sorted(p for p in PASSES.glob("*.md") if p.name != "README.md")
    assert [p.name for p in pages if p.name.startswith("pass-")] == [f"pass-{n:02d}.md" for n in range(1, 14)]
    index = (PASSES / "README.md").read_text(encoding="utf-8")
    summary = SUMMARY.read_text(encoding="utf-8")
    for page in pages:
        assert page.read_text(encoding="utf-8").count(VERBATIM) == 1, f"{page.name} lost its marker"
        assert f"]({page.name})" in index, f"the index does not list {page.name}"
        assert f"](results/passes/{page.name})" in summary, f"the summary does not link {page.name}"
