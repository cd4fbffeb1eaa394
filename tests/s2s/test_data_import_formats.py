"""Formats and columns on import: detection, any column names, the choice rules and their errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2s.data_import import FORMATS, ImportSpec, ParquetSettings, SplitSettings, import_corpus
from s2s.data_import.columns import Column, choose_columns
from s2s.errors import DataError

NO_SPLIT = SplitSettings(valid_size=0, test_size=0)
PAIRS = [("hola", "hello"), ("gracias", "thank you"), ("adiós", "goodbye")]


def _tsv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _train(out: Path) -> list[str]:
    return (out / "train.tsv").read_text(encoding="utf-8").splitlines()


def _spec(tmp_path: Path, data: Path, **kwargs: object) -> ImportSpec:
    return ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out", split=NO_SPLIT,
                      **kwargs)  # type: ignore[arg-type]


def test_the_registry_holds_every_format() -> None:
    assert list(FORMATS) == ["tsv", "parallel", "jsonl", "parquet"]
    assert FORMATS["parallel"].two_files and ".jsonl" in FORMATS["jsonl"].extensions


def test_tsv_with_other_column_names_takes_the_two_text_columns_and_says_so(tmp_path: Path) -> None:
    data = _tsv(tmp_path / "c.tsv", "verse_id\tspanish\tenglish", [f"v{i}\t{s}\t{t}" for i, (s, t) in enumerate(PAIRS)])
    report = import_corpus(_spec(tmp_path, data))
    assert _train(tmp_path / "out") == ["ref\tes\ten", *(f"v{i}\t{s}\t{t}" for i, (s, t) in enumerate(PAIRS))]
    choice = report.columns["train"]
    assert (choice.src.name, choice.tgt.name, choice.ref.name if choice.ref else None) == (
        "spanish", "english", "verse_id")
    assert "only two text columns" in report.summary()


def test_columns_named_by_the_codes_in_either_case_and_either_direction(tmp_path: Path) -> None:
    data = _tsv(tmp_path / "c.tsv", "EN\tnote\tES", [f"{t}\tx\t{s}" for s, t in PAIRS])
    import_corpus(_spec(tmp_path, data))
    assert _train(tmp_path / "out")[1] == "c.tsv:2\thola\thello"
    report = import_corpus(ImportSpec(data=data, src="en", tgt="es", out=tmp_path / "out", split=NO_SPLIT))
    assert _train(tmp_path / "out")[:2] == ["ref\ten\tes", "c.tsv:2\thello\thola"]
    assert report.columns["train"].how == "named by the language codes"


def test_explicit_columns_win(tmp_path: Path) -> None:
    data = _tsv(tmp_path / "c.tsv", "es\ten\tes_clean", [f"{s}!\t{t}\t{s}" for s, t in PAIRS])
    import_corpus(_spec(tmp_path, data, src_col="es_clean"))
    assert _train(tmp_path / "out")[1] == "c.tsv:2\thola\thello"


def test_ambiguous_or_unknown_columns_are_a_clear_error(tmp_path: Path) -> None:
    data = _tsv(tmp_path / "c.tsv", "a\tb\tc", ["1\t2\t3"])
    with pytest.raises(DataError, match=r"\['a', 'b', 'c'\].*--src-col COLUMN --tgt-col COLUMN"):
        import_corpus(_spec(tmp_path, data))
    with pytest.raises(DataError, match=r"--src-col 'x' is not a column.*\['a', 'b', 'c'\]"):
        import_corpus(_spec(tmp_path, data, src_col="x", tgt_col="b"))
    with pytest.raises(DataError, match="both be column 'a'"):
        import_corpus(_spec(tmp_path, data, src_col="a", tgt_col="a"))
    with pytest.raises(DataError, match="more than once"):
        import_corpus(_spec(tmp_path, _tsv(tmp_path / "d.tsv", "es\ten\tes", ["1\t2\t3"])))
    assert not (tmp_path / "out").exists()


def test_choice_rules_in_isolation() -> None:
    cols = [Column("id", ("id",), text=False), Column("src", ("src",)), Column("tgt", ("tgt",))]
    choice = choose_columns(cols, src_code="de", tgt_code="fr", src_col=None, tgt_col=None, where="f")
    assert (choice.src.name, choice.tgt.name, choice.ref) == ("src", "tgt", cols[0])
    with pytest.raises(DataError, match="does not hold text"):
        choose_columns(cols, src_code="de", tgt_code="fr", src_col="id", tgt_col="tgt", where="f")


def test_jsonl_translation_nesting_and_flat_keys(tmp_path: Path) -> None:
    nested = tmp_path / "n.jsonl"
    nested.write_text("\n".join(json.dumps({"id": f"n{i}", "translation": {"en": t, "es": s}})
                                for i, (s, t) in enumerate(PAIRS)) + "\n", encoding="utf-8")
    report = import_corpus(_spec(tmp_path, nested))
    assert report.columns["train"].src.name == "translation.es"
    assert _train(tmp_path / "out")[1:] == [f"n{i}\t{s}\t{t}" for i, (s, t) in enumerate(PAIRS)]
    flat = tmp_path / "f.json"  # Hugging Face's to_json writes JSON Lines under .json
    flat.write_text("\n".join(json.dumps({"source": s, "target": t}) for s, t in PAIRS), encoding="utf-8")
    import_corpus(_spec(tmp_path, flat))
    assert _train(tmp_path / "out")[1] == "f.json:1\thola\thello"


def test_parquet_string_columns_streamed_in_small_batches(tmp_path: Path) -> None:
    data = tmp_path / "c.parquet"
    pq.write_table(pa.table({"id": list(range(len(PAIRS))), "es": [s for s, _ in PAIRS],
                             "en": pa.array([t for _, t in PAIRS], pa.large_string())}), data)
    import_corpus(_spec(tmp_path, data, format_settings=ParquetSettings(batch_rows=2)))
    assert _train(tmp_path / "out")[1:] == [f"{i}\t{s}\t{t}" for i, (s, t) in enumerate(PAIRS)]


def test_gzip_and_explicit_format(tmp_path: Path) -> None:
    data = tmp_path / "corpus.data.gz"
    with gzip.open(data, "wt", encoding="utf-8") as f:
        f.write("es\ten\n" + "".join(f"{s}\t{t}\n" for s, t in PAIRS))
    with pytest.raises(DataError, match="cannot tell the format.*--format"):
        import_corpus(_spec(tmp_path, data))
    import_corpus(_spec(tmp_path, data, format="tsv"))
    assert len(_train(tmp_path / "out")) == 4
    truncated = tmp_path / "t.tsv.gz"
    truncated.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(DataError, match="cannot be read"):
        import_corpus(_spec(tmp_path, truncated))


def test_input_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"--data .*missing.tsv: no such file"):
        import_corpus(_spec(tmp_path, tmp_path / "missing.tsv"))
    data = _tsv(tmp_path / "c.tsv", "es\ten", ["a\tb"])
    with pytest.raises(DataError, match="unknown corpus format 'csv'"):
        import_corpus(_spec(tmp_path, data, format="csv"))
    with pytest.raises(DataError, match="--format parquet does not take a target file"):
        import_corpus(_spec(tmp_path, data, target_file=data, format="parquet"))
    with pytest.raises(DataError, match="--target-file .*nope.en: no such file"):
        import_corpus(_spec(tmp_path, data, target_file=tmp_path / "nope.en"))
    with pytest.raises(DataError, match="two plain files have no columns"):
        import_corpus(_spec(tmp_path, data, target_file=data, src_col="es"))
    with pytest.raises(DataError, match="no header row"):
        import_corpus(_spec(tmp_path, _tsv(tmp_path / "e.tsv", "", [])))
    with pytest.raises(DataError, match="not a readable Parquet file"):
        import_corpus(_spec(tmp_path, _tsv(tmp_path / "p.parquet", "es\ten", [])))
    with pytest.raises(DataError, match="no JSON object"):
        import_corpus(_spec(tmp_path, _tsv(tmp_path / "j.jsonl", "not json", ["[1, 2]"])))
    with pytest.raises(DataError, match="--src 'e s'"):
        ImportSpec(data=data, src="e s", tgt="en", out=tmp_path / "out")
    with pytest.raises(DataError, match="both 'en'"):
        ImportSpec(data=data, src="en", tgt="en", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
