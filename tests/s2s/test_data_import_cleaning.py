"""Cleaning on import: every drop reason counted exactly, in each format, and the kept rows normalised."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from s2s.data_import import ImportSpec, Reason, SplitSettings, import_corpus
from s2s.data_import.hashset import HashSet64, keyed_hasher, text_hash

NO_SPLIT = SplitSettings(valid_size=0, test_size=0)
LONG = " ".join(["palabra"] * 201)

# (source, target) rows that are kept, and one row for each content reason, shared by every format.
GOOD = [("hola mundo", "hello world"), ("buenos días", "good morning"), ("adiós amigo", "goodbye friend")]
CONTENT_BAD = [
    (" hola \u2028  mundo ", "hello   world"),  # duplicate of GOOD[0] once whitespace is normalised
    ("", "empty source"),  # empty side
    ("igual", "igual"),  # source = target
    (LONG, LONG.replace("palabra", "word")),  # too long: 201 words
    ("sí", "yes, this is a far longer target sentence"),  # length ratio: 2 vs 42 characters
]
CONTENT_COUNTS = {Reason.DUPLICATE: 1, Reason.EMPTY: 1, Reason.SAME: 1, Reason.TOO_LONG: 1, Reason.RATIO: 1}


def _import(tmp_path: Path, data: Path, **kwargs: object) -> tuple[dict[Reason, int], list[str]]:
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out", split=NO_SPLIT,
                                      **kwargs))  # type: ignore[arg-type]
    train = (tmp_path / "out" / "train.tsv").read_text(encoding="utf-8").splitlines()
    assert train[0] == "ref\tes\ten"
    tally = report.tallies["train"]
    assert tally.read == sum(tally.dropped.values()) + tally.kept
    return tally.dropped, train[1:]


def test_tsv_counts_every_reason(tmp_path: Path) -> None:
    rows = [f"{i}\t{s}\t{t}" for i, (s, t) in enumerate(GOOD[:1] + CONTENT_BAD + GOOD[1:])]
    body = "\n".join(["ref\tes\ten", *rows, "x\tsolo dos columnas", "y\tuno\tdos\ttres", "", "z\tvale\tok"])
    data = tmp_path / "c.tsv"
    data.write_bytes(body.encode("utf-8") + b"\nw\tmal \xff byte\tbad\n")
    dropped, kept = _import(tmp_path, data)
    assert dropped == {**CONTENT_COUNTS, Reason.MALFORMED: 2, Reason.BAD_UTF8: 1}
    assert kept == ["0\thola mundo\thello world", "6\tbuenos días\tgood morning", "7\tadiós amigo\tgoodbye friend",
                    "z\tvale\tok"]


def test_tsv_examples_name_the_lines(tmp_path: Path) -> None:
    data = tmp_path / "c.tsv"
    data.write_bytes(b"es\ten\nhola\thello\nsolo\n\xff\tx\n")
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out", split=NO_SPLIT))
    examples = report.tallies["train"].examples
    assert examples[Reason.MALFORMED] == ["c.tsv:3 (1 columns, the header has 2)"]
    assert examples[Reason.BAD_UTF8] == ["c.tsv:4"]
    assert (tmp_path / "out" / "train.tsv").read_text().splitlines()[1] == "c.tsv:2\thola\thello"


def test_jsonl_counts_every_reason(tmp_path: Path) -> None:
    lines = [json.dumps({"translation": {"es": s, "en": t}}, ensure_ascii=False)
             for s, t in GOOD[:1] + CONTENT_BAD + GOOD[1:]]
    lines += ['{"translation": {"es": "roto", "en": ', '["a list"]', '{"translation": {"es": "sin inglés"}}',
              '{"translation": {"es": "número", "en": 7}}', '{"translation": {"es": "\\ud800", "en": "lone"}}',
              '{"translation": {"es": "nulo", "en": null}}', ""]
    data = tmp_path / "c.jsonl"
    data.write_bytes("\n".join(lines).encode("utf-8") + b'\n{"translation": {"es": "\xff", "en": "x"}}\n')
    dropped, kept = _import(tmp_path, data)
    assert dropped == {Reason.DUPLICATE: 1, Reason.EMPTY: 2, Reason.SAME: 1, Reason.TOO_LONG: 1, Reason.RATIO: 1,
                       Reason.MALFORMED: 4, Reason.BAD_UTF8: 2}
    assert [row.split("\t", 1)[1] for row in kept] == [f"{s}\t{t}" for s, t in GOOD]
    assert kept[0].startswith("c.jsonl:1\t")


def test_flat_jsonl_with_an_id_key(tmp_path: Path) -> None:
    data = tmp_path / "c.jsonl"
    data.write_text("\n".join(json.dumps({"id": i, "spa": s, "eng": t}) for i, (s, t) in enumerate(GOOD)) + "\n")
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out", split=NO_SPLIT))
    assert report.columns["train"].src.name == "spa" and report.columns["train"].ref is not None
    assert (tmp_path / "out" / "train.tsv").read_text().splitlines()[1:] == [
        f"{i}\t{s}\t{t}" for i, (s, t) in enumerate(GOOD)]


def test_parallel_files_count_every_reason(tmp_path: Path) -> None:
    pairs = GOOD[:1] + CONTENT_BAD + GOOD[1:]
    src, tgt = tmp_path / "c.es", tmp_path / "c.en"
    src.write_bytes("\n".join(s for s, _ in pairs).encode() + b"\nmal \xff\nsobra una\nsobra dos\n")
    tgt.write_bytes("\n".join(t for _, t in pairs).encode() + b"\nbad\n")
    dropped, kept = _import(tmp_path, src, target_file=tgt)
    assert dropped == {**CONTENT_COUNTS, Reason.BAD_UTF8: 1, Reason.MALFORMED: 2}
    assert [row.split("\t", 1)[1] for row in kept] == [f"{s}\t{t}" for s, t in GOOD]
    assert kept[0].startswith("c.es:1\t")


def test_parquet_counts_every_reason(tmp_path: Path) -> None:
    pairs = GOOD[:1] + CONTENT_BAD + GOOD[1:]
    table = pa.table({
        "translation": [{"es": s, "en": t} for s, t in pairs] + [None, {"es": "nulo", "en": None}],
        "raw_es": [s.encode() for s, _ in pairs] + [b"\xff", b"ok"],
    })
    data = tmp_path / "c.parquet"
    pq.write_table(table, data, row_group_size=3)
    dropped, kept = _import(tmp_path, data)
    assert dropped == {**CONTENT_COUNTS, Reason.EMPTY: 3}
    assert [row.split("\t", 1)[1] for row in kept] == [f"{s}\t{t}" for s, t in GOOD]
    assert kept[0].startswith("c.parquet:row 1\t")
    # A binary column is decoded per value: the undecodable one is a dropped row, not a refused file.
    (tmp_path / "out2").mkdir()
    dropped, _ = _import(tmp_path / "out2", data, src_col="raw_es", tgt_col="translation.en")
    assert dropped[Reason.BAD_UTF8] == 1


def test_limits_are_settings(tmp_path: Path) -> None:
    from s2s.data_import import CleaningSettings

    data = tmp_path / "c.tsv"
    data.write_text("es\ten\nuno dos tres\tone two three\nsí\tyes, absolutely-definitely-certainly\n")
    spec = ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out", split=NO_SPLIT,
                      cleaning=CleaningSettings(max_words=2, max_ratio=20.0))
    report = import_corpus(spec)
    assert report.tallies["train"].dropped == {Reason.TOO_LONG: 1} and report.rows("train") == 1


def test_hash_set_grows_and_finds_its_members() -> None:
    seen = HashSet64(capacity=4)
    values = [text_hash(str(i)) for i in range(5000)] + [0, keyed_hasher(b"k")("x")]
    assert all(seen.add(v) for v in values)
    assert len(seen) == 5002 and not any(seen.add(v) for v in values)
    assert all(v in seen for v in values) and text_hash("absent") not in seen
    assert seen.nbytes <= 8 * 16384

