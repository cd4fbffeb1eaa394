"""Generated tables land between their markers, in one document or in every copy across several."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.doc_section import RESULTS_DOCS, fill_section, fill_sections, markdown_files, markers

START, END = markers("t")


def page(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_a_section_is_replaced_and_the_prose_around_it_kept(tmp_path: Path) -> None:
    doc = page(tmp_path / "a.md", f"before\n{START}\nold\n{END}\nafter\n")
    fill_section(doc, "t", "| new |")
    assert doc.read_text(encoding="utf-8") == f"before\n{START}\n| new |\n{END}\nafter\n"


def test_every_copy_of_a_section_is_filled_and_other_pages_left_alone(tmp_path: Path) -> None:
    summary = page(tmp_path / "results.md", f"# Summary\n{START}\nold\n{END}\n")
    notebook = page(tmp_path / "passes" / "pass-01.md", f"text\n{START}\nolder\n{END}\nmore\n")
    other = page(tmp_path / "passes" / "pass-02.md", "no table here\n")
    filled = fill_sections([summary, tmp_path / "passes"], "t", "| new |")
    assert filled == [summary, notebook]
    assert summary.read_text(encoding="utf-8") == f"# Summary\n{START}\n| new |\n{END}\n"
    assert notebook.read_text(encoding="utf-8") == f"text\n{START}\n| new |\n{END}\nmore\n"
    assert other.read_text(encoding="utf-8") == "no table here\n"


def test_a_section_nowhere_or_half_marked_is_an_error_that_names_it(tmp_path: Path) -> None:
    page(tmp_path / "passes" / "pass-01.md", "no table here\n")
    with pytest.raises(SystemExit, match="no document in .* has a <!-- bench:t:start -->"):
        fill_sections([tmp_path / "passes"], "t", "| new |")
    half = page(tmp_path / "passes" / "pass-02.md", f"{START}\nold\n")
    with pytest.raises(SystemExit, match="only one of"):
        fill_sections([tmp_path / "passes"], "t", "| new |")
    assert half.read_text(encoding="utf-8") == f"{START}\nold\n"


def test_the_results_docs_are_the_summary_and_the_notebook_pages() -> None:
    files = markdown_files(RESULTS_DOCS)
    assert files[0].name == "results.md" and files[0].parent.name == "docs"
    assert {f.name for f in files[1:]} >= {"protocol.md", "pass-01.md", "pass-13.md", "compression.md"}
