"""`experiments.ensemble.decode`: members and their ensemble through one search, and Seq-KD data of a sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from experiments.ensemble.decode import compare, load, seqkd, translate
from s2s.corpus import read_corpus


def _head(bible_dir: Path, out: Path, rows: int) -> Path:
    lines = (bible_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[: rows + 1]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_a_model_ensembled_with_its_copy_translates_as_it_does_alone(micro_checkpoint: Path, bible_dir: Path,
                                                                      tmp_path: Path) -> None:
    twin = shutil.copytree(micro_checkpoint, tmp_path / "twin")
    result = compare([micro_checkpoint, twin], _head(bible_dir, tmp_path / "t.tsv", 12), "es", "en", [1, 2])
    rows = {(r["system"], r["beam"]): r for r in result["rows"] if "system" in r}
    assert set(rows) == {(n, b) for n in (micro_checkpoint.name, "twin", "ensemble") for b in (1, 2)}
    for beam in (1, 2):
        alone, twin_alone, both = (rows[(n, beam)]["bleu"] for n in (micro_checkpoint.name, "twin", "ensemble"))
        assert both == alone == twin_alone
    tests = [r for r in result["rows"] if "paired" in r]
    assert [t["paired"] for t in tests] == [f"ensemble vs {micro_checkpoint.name}", "ensemble vs twin"] * 2
    assert result["sentences"] == 12


def test_seqkd_translates_a_fixed_sample_of_sources_in_input_order(micro_checkpoint: Path, micro_checkpoint_b: Path,
                                                                   bible_dir: Path, tmp_path: Path) -> None:
    data = _head(bible_dir, tmp_path / "t.tsv", 12)
    first = seqkd([micro_checkpoint, micro_checkpoint_b], data, "es", "en", 1, tmp_path / "a" / "seq_kd.tsv", sample=5)
    seqkd([micro_checkpoint, micro_checkpoint_b], data, "es", "en", 1, tmp_path / "b" / "seq_kd.tsv", sample=5)
    assert first["sentences"] == 5
    a, b = ((tmp_path / d / "seq_kd.tsv").read_text(encoding="utf-8").splitlines() for d in "ab")
    assert a == b and a[0] == "es\ten" and len(a) == 6  # the same draw, a deterministic search
    sources = read_corpus(data, src_col="es", tgt_col="en").sources()
    drawn = [sources.index(line.split("\t")[0]) for line in a[1:]]
    assert drawn == sorted(drawn)  # input order kept


def test_chunked_translation_equals_one_pass_and_reports_progress(micro_checkpoint: Path, micro_checkpoint_b: Path,
                                                                  bible_dir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    members = load([micro_checkpoint, micro_checkpoint_b])
    sources = read_corpus(_head(bible_dir, tmp_path / "t.tsv", 12), src_col="es", tgt_col="en").sources()
    whole, _ = translate(members, sources, 2)
    chunked, _ = translate(members, sources, 2, chunk=5)
    assert chunked == whole
    assert "[decode] 10/12 sentences" in capsys.readouterr().err
