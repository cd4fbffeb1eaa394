"""`kd translate`, `kd evaluate`, `kd export` and `kd teacher serve`'s settings on teachers of every family,
and the clear errors for what they cannot take (through `kd`'s own entry point, exit code 2 on bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kd.cli import main
from s2s.ct2_runtime import Ct2Model


@pytest.mark.parametrize("name", ["t5", "mbart50", "nllb", "m2m100", "marian_separate"])
def test_translate_evaluate_and_export_take_every_family(tiny_teachers: dict[str, Path], tiny_tsv: Path,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         name: str) -> None:
    folder = str(tiny_teachers[name])
    assert main(["translate", "--model", folder, "--src-lang", "es", "--tgt-lang", "en", "Hola.", "Amén."]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", folder, "--data", str(tiny_tsv), "--beams", "1", "--max-len", "8",
                 "--out", str(out)]) == 0  # the direction defaults to the corpus's columns (es, en)
    assert json.loads((out / "results.json").read_text())["results"][0]["sentences"] == 4
    export = tmp_path / "export"
    assert main(["export", "--model", folder, "--out", str(export), "--src-lang", "es", "--tgt-lang", "en"]) == 0
    assert Ct2Model(export).manifest.tgt_lang == "en" and len(Ct2Model(export).translate(["Hola."])) == 1


@pytest.fixture()
def tiny_tsv(bible_dir: Path, tmp_path: Path) -> Path:
    lines = (bible_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[:5]
    path = tmp_path / "tiny.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_what_cannot_be_used_is_named(tiny_teachers: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    assert main(["translate", "--model", str(bert), "hola"]) == 2
    assert "bert model, which this project cannot use as a teacher" in capsys.readouterr().err
    assert main(["translate", "--model", str(tiny_teachers["nllb"]), "hola"]) == 2
    assert "--src-lang" in capsys.readouterr().err
    assert main(["translate", "--model", str(tiny_teachers["mbart50"]), "--src-lang", "es", "--tgt-lang", "qq",
                 "hola"]) == 2
    assert "language 'qq'" in capsys.readouterr().err
    out = tmp_path / "never"
    assert main(["export", "--model", str(tiny_teachers["m2m100"]), "--out", str(out)]) == 2
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]
