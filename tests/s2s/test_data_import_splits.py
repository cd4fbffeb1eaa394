"""Held-out sets on import: exact sizes, no source shared with training, reproducible by seed, given files."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.data_import import ImportSpec, Reason, SplitSettings, import_corpus
from s2s.data_import.splitting import HeldOutPicker, plan_sizes
from s2s.errors import DataError


def _corpus(path: Path, n: int, repeats: int = 0) -> Path:
    """`n` distinct sources; the first `repeats` of them appear a second time with another target."""
    rows = [f"r{i}\tfrase número {i}\tsentence number {i}" for i in range(n)]
    rows += [f"r{i}b\tfrase número {i}\tphrase number {i}" for i in range(repeats)]
    path.write_text("ref\tes\ten\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _rows(out: Path, split: str) -> list[tuple[str, str, str]]:
    lines = (out / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ref\tes\ten"
    return [tuple(line.split("\t")) for line in lines[1:]]  # type: ignore[misc]


def _sources(out: Path, split: str) -> set[str]:
    return {src for _, src, _ in _rows(out, split)}


def test_requested_sizes_are_exact_and_never_share_a_source_with_train(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "c.tsv", 300, repeats=150)
    out = tmp_path / "out"
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=out,
                                      split=SplitSettings(valid_size=25, test_size=40)))
    assert (report.rows("valid"), report.rows("test")) == (25, 40)
    assert len(_rows(out, "valid")) == 25 and len(_rows(out, "test")) == 40
    train, valid, test = (_sources(out, s) for s in ("train", "valid", "test"))
    assert not train & valid and not train & test and not valid & test
    assert len(valid) == 25 and len(test) == 40  # one row per held-out source
    tally = report.tallies["train"]
    # Every row is accounted for: the second rows of held-out sources are counted as overlaps.
    assert tally.read == 450 and tally.read == tally.total_dropped + sum(report.rows(s) for s in report.tallies)
    assert set(tally.dropped) <= {Reason.OVERLAP}
    assert report.rows("train") == 450 - 65 - tally.dropped.get(Reason.OVERLAP, 0)
    assert report.split_off == ("valid", "test")


def test_the_seed_fixes_the_split(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "c.tsv", 400)

    def split(seed: int, name: str) -> tuple[set[str], set[str]]:
        import_corpus(ImportSpec(data=data, src="es", tgt="en", out=tmp_path / name, split=SplitSettings(seed=seed)))
        return _sources(tmp_path / name, "valid"), _sources(tmp_path / name, "test")

    first, again, other = split(1, "a"), split(1, "b"), split(2, "c")
    assert first == again and first != other
    assert (tmp_path / "a" / "train.tsv").read_bytes() == (tmp_path / "b" / "train.tsv").read_bytes()
    assert (len(first[0]), len(first[1])) == (12, 20)  # the defaults: 3 % and 5 % of 400 rows


def test_default_sizes() -> None:
    default = SplitSettings()
    both = ("test", "valid")
    assert plan_sizes(default, both, rows=100_000, distinct=100_000, where="f") == {"valid": 1000, "test": 2000}
    assert plan_sizes(default, both, rows=1000, distinct=1000, where="f") == {"valid": 30, "test": 50}
    assert plan_sizes(default, both, rows=10, distinct=10, where="f") == {"valid": 1, "test": 1}
    assert plan_sizes(default, both, rows=3, distinct=3, where="f") == {"valid": 1, "test": 1}
    assert plan_sizes(default, both, rows=2, distinct=2, where="f") == {"valid": 0, "test": 0}
    # Many rows but few distinct sources: the defaults shrink so that training keeps a source.
    assert sum(plan_sizes(default, both, rows=1000, distinct=5, where="f").values()) == 4
    with pytest.raises(DataError, match="--valid-size 3 \\+ --test-size 2 leave no training rows"):
        plan_sizes(SplitSettings(valid_size=3, test_size=2), both, rows=5, distinct=5, where="f")


def test_picker_keeps_the_smallest_keys_of_distinct_sources() -> None:
    small, large = HeldOutPicker(3, seed=7), HeldOutPicker(1000, seed=7)
    for i in range(500):
        for picker in (small, large):
            picker.offer(picker.key(f"s{i % 250}"))
    assert large.distinct == 250 and small.distinct == 3
    assert small.assign({"test": 1, "valid": 2}) == large.assign({"test": 1, "valid": 2})


def test_tiny_corpus_keeps_one_row_each(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = import_corpus(ImportSpec(data=_corpus(tmp_path / "c.tsv", 3), src="es", tgt="en", out=out))
    assert [report.rows(s) for s in ("train", "valid", "test")] == [1, 1, 1]
    report = import_corpus(ImportSpec(data=_corpus(tmp_path / "d.tsv", 2), src="es", tgt="en", out=out))
    assert [report.rows(s) for s in ("train", "valid", "test")] == [2, 0, 0]
    assert any("no validation or test rows" in note for note in report.notes)


def test_given_files_are_used_and_their_sources_leave_train(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "c.tsv", 50)
    valid = tmp_path / "v.tsv"
    valid.write_text("es\ten\nfrase número 3\tsentence number 3\nfrase número 4\tanother target\notra\tother\n")
    test = tmp_path / "t.tsv"
    test.write_text("es\ten\nfrase número 7\tsentence number 7\nvacía\t\n")
    out = tmp_path / "out"
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=out, valid=valid, test=test))
    assert (report.rows("valid"), report.rows("test"), report.rows("train")) == (3, 1, 47)
    assert report.tallies["train"].dropped == {Reason.OVERLAP: 3}
    assert report.tallies["test"].dropped == {Reason.EMPTY: 1} and report.split_off == ()
    assert not _sources(out, "train") & (_sources(out, "valid") | _sources(out, "test"))
    assert "| read " in report.table() and report.tallies["valid"].read == 3


def test_a_given_test_file_and_a_split_off_valid(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "c.tsv", 100)
    test = tmp_path / "t.tsv"
    test.write_text("es\ten\nfrase número 7\tsentence number 7\n")
    out = tmp_path / "out"
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=out, test=test,
                                      split=SplitSettings(valid_size=10)))
    assert (report.rows("valid"), report.rows("test"), report.rows("train")) == (10, 1, 89)
    assert report.split_off == ("valid",)
    train, valid, held = _sources(out, "train"), _sources(out, "valid"), _sources(out, "test")
    assert not train & valid and not train & held and not valid & held
    with pytest.raises(DataError, match="--test-size applies to a test set split off"):
        ImportSpec(data=data, src="es", tgt="en", out=out, test=test, split=SplitSettings(test_size=3))
