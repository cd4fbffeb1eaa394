"""Atomic writes: the target holds either the old or the new content, never a partial one."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.atomic import swap_into_place, write_text_atomic


def test_write_text_atomic_replaces_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.tsv"
    write_text_atomic(target, "old\n")
    write_text_atomic(target, "new ü\n")
    assert target.read_text(encoding="utf-8") == "new ü\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.tsv"]
    plain = tmp_path / "plain.txt"
    plain.write_text("x", encoding="utf-8")
    assert target.stat().st_mode == plain.stat().st_mode  # the umask's permissions, not owner-only


def test_write_text_atomic_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(TypeError):
        write_text_atomic(target, b"not text")  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_swap_into_place_replaces_a_folder(tmp_path: Path) -> None:
    out, tmp = tmp_path / "model", tmp_path / ".model.tmp"
    out.mkdir()
    (out / "a").write_text("old", encoding="utf-8")
    tmp.mkdir()
    (tmp / "a").write_text("new", encoding="utf-8")
    swap_into_place(tmp, out)
    assert (out / "a").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
