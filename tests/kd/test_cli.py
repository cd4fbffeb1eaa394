"""The `kd` command line: every subcommand has --help; data and model commands do their job."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from kd.cli import build_parser, main
from s2s.checkpoint import load_checkpoint


def _subcommand_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                paths.append((*prefix, name))
                paths.extend(_subcommand_paths(child, (*prefix, name)))
    return paths


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _subcommand_paths(build_parser())
    assert ("evaluate",) in paths and ("data", "bible") in paths and ("tokenizer", "train") in paths
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            main([*path, "--help"])
        assert exit_info.value.code == 0
        assert "usage: kd" in capsys.readouterr().out


def test_data_bible_copies_the_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "bible", "--out", str(tmp_path / "bible")]) == 0
    assert "train  27982 pairs" in capsys.readouterr().out
    assert (tmp_path / "bible" / "test.tsv").stat().st_size > 0


def test_tokenizer_train_and_model_create(tmp_path: Path, bible_dir: Path) -> None:
    assert main(["tokenizer", "train", "--data", str(bible_dir / "valid.tsv"), "--out", str(tmp_path / "tok"),
                 "--vocab-size", "400"]) == 0
    assert main(["model", "create", "--preset", "test-micro", "--tokenizer", str(tmp_path / "tok"),
                 "--out", str(tmp_path / "m")]) == 0
    loaded = load_checkpoint(tmp_path / "m")
    assert loaded.model.config.vocab_size == 401 and loaded.manifest.preset == "test-micro"


def test_translate_command(micro_checkpoint: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "kd", "translate", "--model", str(micro_checkpoint), "Hola."],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 1
