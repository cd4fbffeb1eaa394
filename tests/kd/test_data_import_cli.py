"""`kd data import` end to end: every format through the command line, progress, the table, errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kd.commands.data as data_command
import s2s.data_import.importer as importer
from kd.cli import main
from s2s.corpus import read_tsv
from s2s.data_import import FORMATS, Reason

REPO = Path(__file__).resolve().parents[2]


def _jsonl(path: Path, n: int) -> Path:
    rows = [json.dumps({"translation": {"de": f"Satz {i}", "fr": f"phrase {i}"}}) for i in range(n)]
    path.write_text("\n".join([*rows, "{broken", json.dumps({"translation": {"de": "gleich", "fr": "gleich"}})]) + "\n",
                    encoding="utf-8")
    return path


def test_import_jsonl_prints_progress_and_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 50)
    monkeypatch.setattr(data_command, "PROGRESS_INTERVAL_S", 0.0)
    out = tmp_path / "de-fr"
    code = main(["data", "import", "--data", str(_jsonl(tmp_path / "c.jsonl", 200)), "--src", "de", "--tgt", "fr",
                 "--valid-size", "10", "--test-size", "20", "--seed", "3", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "c.jsonl: 100 rows read" in captured.err and "c.jsonl: 200 rows read" in captured.err
    table = captured.out[captured.out.index("| rows"):]
    assert "| read" in table and "| dropped: malformed row" in table and "| dropped: source = target" in table
    assert "translation.de" in captured.out and "seed 3" in captured.out and "c.jsonl:201 (invalid JSON" in captured.out
    sizes = {split: len(read_tsv(out / f"{split}.tsv", "de", "fr").pairs) for split in ("train", "valid", "test")}
    assert sizes == {"train": 170, "valid": 10, "test": 20}
    assert json.loads((out / "import.json").read_text())["split"]["seed"] == 3


def test_import_parallel_files_with_given_held_out_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def pair(name: str, n: int, offset: int = 0) -> list[str]:
        (tmp_path / f"{name}.de").write_text("".join(f"Satz {i + offset}\n" for i in range(n)), encoding="utf-8")
        (tmp_path / f"{name}.fr").write_text("".join(f"phrase {i + offset}\n" for i in range(n)), encoding="utf-8")
        return [str(tmp_path / f"{name}.de"), str(tmp_path / f"{name}.fr")]

    train, valid, test = pair("train", 50), pair("valid", 5, offset=100), pair("test", 5, offset=0)
    out = tmp_path / "out"
    code = main(["data", "import", "--data", train[0], "--target-file", train[1], "--src", "de", "--tgt", "fr",
                 "--valid", *valid, "--test", *test, "--max-words", "50", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| dropped: overlaps valid/test |" in captured.out  # the test file repeats train's first five
    assert [len(read_tsv(out / f"{s}.tsv", "de", "fr").pairs) for s in ("train", "valid", "test")] == [45, 5, 5]
    assert json.loads((out / "import.json").read_text())["cleaning"]["max_words"] == 50


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "{tmp}/missing.tsv"], "--data {tmp}/missing.tsv: no such file"),
    (["--data", "{tmp}/c.csv"], "cannot tell the format from the file name; pass --format"),
    (["--data", "{tmp}/c.tsv", "--src-col", "nope"], "--src-col 'nope' is not a column"),
    (["--data", "{tmp}/abc.tsv"], "the columns are ['a', 'b', 'c']; pass --src-col COLUMN --tgt-col COLUMN"),
    (["--data", "{tmp}/bad.tsv"], "{tmp}/bad.tsv: no usable rows: all 2 rows read were dropped"),
    (["--data", "{tmp}/c.tsv", "--valid", "a", "b", "c"], "--valid takes one file, or two"),
    (["--data", "{tmp}/c.tsv", "--max-ratio", "0.5"], "--max-ratio out of range"),
    (["--data", "{tmp}/c.tsv", "--valid-size", "8", "--test-size", "8"], "leave no training rows"),
])
def test_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                      message: str) -> None:
    (tmp_path / "c.tsv").write_text("de\tfr\n" + "".join(f"Satz {i}\tphrase {i}\n" for i in range(10)))
    (tmp_path / "c.csv").write_text("de,fr\nja,oui\n")
    (tmp_path / "abc.tsv").write_text("a\tb\tc\n1\t2\t3\n")
    (tmp_path / "bad.tsv").write_text("de\tfr\ngleich\tgleich\n\tleer\n")
    argv = ["data", "import", *(a.format(tmp=tmp_path) for a in args), "--src", "de", "--tgt", "fr",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kd data: error: ") and message.format(tmp=tmp_path) in err
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_help_and_docs_explain_every_reason_and_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["data", "import", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    docs = (REPO / "docs" / "data.md").read_text(encoding="utf-8")
    for reason in Reason:
        assert reason.label in help_text and f"| {reason.label} |" in docs
    assert all(f"| `{name}`" in docs for name in FORMATS)
