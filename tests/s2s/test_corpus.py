"""Parallel corpus parsing: TSV with header, plain file pairs, and bad rows reported by line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.corpus import read_corpus, read_parallel_files, read_tsv
from s2s.errors import DataError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_bundled_corpus(bible_dir: Path) -> None:
    corpus = read_tsv(bible_dir / "valid.tsv")
    assert len(corpus.pairs) == 962 and not corpus.problems
    assert corpus.pairs[0].ref and corpus.pairs[0].src and corpus.pairs[0].tgt


def test_bad_rows_are_reported_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", "ref\tes\ten\nA 1\thola\thello\nA 2\t\tempty\nA 3\tsolo\n"
                  "A 4\tuno\tone\textra\nA 5\tadiós\tbye\n")
    corpus = read_tsv(path)
    assert [p.ref for p in corpus.pairs] == ["A 1", "A 5"]
    assert [(p.line, p.reason) for p in corpus.problems] == [
        (3, "empty source text"), (4, "2 columns, header has 3"), (5, "4 columns, header has 3")]


def test_tsv_rows_keep_every_cell_and_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", "ref\tes\ten\tnote\nA 1\t hola  mundo\thello\tkept as is \nA 2\t\tx\ty\n")
    corpus = read_tsv(path)
    assert corpus.header == ("ref", "es", "en", "note")
    assert corpus.pairs[0].src == "hola mundo"
    assert corpus.pairs[0].cells == ("A 1", " hola  mundo", "hello", "kept as is ")
    assert len(corpus.pairs) == 1 and corpus.problems[0].line == 3


def test_strict_mode_refuses_the_file_naming_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", "ref\tes\ten\nA 1\thola\t  \n")
    with pytest.raises(DataError, match=r"c.tsv:2: empty target text"):
        read_tsv(path, on_error="raise")


def test_named_columns_and_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", "de\tfr\nHallo\tBonjour\n")
    corpus = read_corpus(path, src_col="de", tgt_col="fr")
    assert corpus.pairs[0].src == "Hallo" and corpus.pairs[0].ref == "line 2"
    with pytest.raises(DataError, match="no column 'es'"):
        read_tsv(path)


def test_plain_parallel_files_with_mismatched_lengths(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.txt", "uno\ndos\ntres\n")
    tgt = _write(tmp_path / "t.txt", "one\ntwo\n")
    corpus = read_parallel_files(src, tgt)
    assert [p.tgt for p in corpus.pairs] == ["one", "two"]
    assert "line counts differ: 3 source vs 2 target" in corpus.problems[0].reason
    with pytest.raises(DataError, match="line counts differ"):
        read_parallel_files(src, tgt, on_error="raise")


def test_invalid_utf8_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"ref\tes\ten\nA\t\xff\tx\n")
    with pytest.raises(DataError, match=r"bad.tsv:2: not valid UTF-8"):
        read_tsv(bad)
    with pytest.raises(DataError, match="does not exist"):
        read_tsv(tmp_path / "nope.tsv")


def test_streaming_a_tsv_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    from s2s.corpus import Pair, Problem, iter_tsv

    path = tmp_path / "c.tsv"
    path.write_bytes(b"ref\tes\ten\nA 1\thola\thello\n" + b"A 2\t\xff\xfe\tbad\n"
                     + "A 3\tsolo\nA 4\tadiós\tbye\n".encode())
    items = list(iter_tsv(path))
    assert [i.ref for i in items if isinstance(i, Pair)] == ["A 1", "A 4"]
    assert [(p.line, p.reason) for p in items if isinstance(p, Problem)] == [
        (3, "not valid UTF-8"), (4, "2 columns, header has 3")]
