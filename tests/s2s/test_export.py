"""Exporting checkpoints to CTranslate2: exact float32 decoding, carried files, atomic replacement, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kd.cli import main
from s2s.checkpoint import Manifest, load_checkpoint, save_checkpoint
from s2s.ct2_runtime import CT2_FILES, EXPORT_INFO, Ct2Model, is_export, read_export_info
from s2s.decoding import translate
from s2s.errors import CheckpointError, KDError
from s2s.export import export_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import TOKENIZER_FILES, Tokenizer

TEXTS = ["En el principio creó Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz; y fue la luz.",
         "Jesús lloró.", "Hola"]


@pytest.fixture(scope="module")
def trained_like_checkpoint(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    """A micro model whose `<pad>` embedding is not zero, as training with tied embeddings leaves it."""
    model = build_model("test-micro", tokenizer, seed=3)
    embeddings = model.get_input_embeddings()
    assert isinstance(embeddings, torch.nn.Embedding)
    with torch.no_grad():
        embeddings.weight[tokenizer.pad_id] = torch.randn(model.config.d_model)
    manifest = Manifest(model_id="padded", vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(model), metrics={"bleu": 1.5})
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("ckpt") / "padded", manifest)


@pytest.mark.parametrize("which", ["micro_checkpoint", "trained_like_checkpoint"])
def test_float32_export_decodes_exactly_like_pytorch(which: str, request: pytest.FixtureRequest,
                                                     tmp_path: Path) -> None:
    checkpoint = request.getfixturevalue(which)
    ckpt = load_checkpoint(checkpoint)
    pad_row = ckpt.model.get_input_embeddings().weight[ckpt.tokenizer.pad_id]  # type: ignore[index]
    assert which == "micro_checkpoint" or bool(pad_row.any())
    export_checkpoint(checkpoint, tmp_path / "out", "float32")
    exported = Ct2Model(tmp_path / "out")
    by_limit = {n: translate(ckpt.model, ckpt.tokenizer, TEXTS, beam_size=1, max_len=n) for n in (1, 2, 9, 24)}
    for max_len, expected in by_limit.items():
        assert exported.translate(TEXTS, max_len=max_len) == expected
    mixed = [24, 1, 9, 2]  # one limit per text, decoded in one call and cut to each limit
    assert exported.translate(TEXTS, max_len=mixed) == [by_limit[n][i] for i, n in enumerate(mixed)]


def test_export_carries_tokenizer_manifest_and_export_info(micro_checkpoint: Path, tmp_path: Path,
                                                           tokenizer: Tokenizer) -> None:
    f32 = export_checkpoint(micro_checkpoint, tmp_path / "f32", "float32")
    int8 = export_checkpoint(micro_checkpoint, tmp_path / "int8", "int8")
    out = tmp_path / "int8"
    assert is_export(out) and all((out / name).is_file() for name in (*CT2_FILES, *TOKENIZER_FILES))
    assert Tokenizer(out).fingerprint == tokenizer.fingerprint
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vocab_fingerprint"] == tokenizer.fingerprint
    assert manifest["parameters"] == load_checkpoint(micro_checkpoint).manifest.parameters
    assert read_export_info(out) == int8
    assert int8.quantization == "int8" and f32.quantization == "float32"
    assert int8.size_bytes == sum(p.stat().st_size for p in out.iterdir() if p.name != EXPORT_INFO)
    assert int8.size_bytes < f32.size_bytes
    assert int8.max_source_positions == 128 and int8.bleu is None


def test_export_measures_bleu_when_asked(trained_like_checkpoint: Path, tmp_path: Path, bible_dir: Path) -> None:
    info = export_checkpoint(trained_like_checkpoint, tmp_path / "out", "int16",
                             eval_tsv=bible_dir / "test.tsv", eval_limit=4)
    assert info.bleu is not None and 0 <= info.bleu < 5  # a random model
    assert info.bleu_sentences == 4 and info.bleu_set == str(bible_dir / "test.tsv")
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["metrics"] == {"bleu": 1.5}


def test_reexport_replaces_the_old_export_atomically(micro_checkpoint: Path, tmp_path: Path) -> None:
    export_checkpoint(micro_checkpoint, tmp_path / "model", "float32")
    export_checkpoint(micro_checkpoint, tmp_path / "model", "int8")
    assert read_export_info(tmp_path / "model").quantization == "int8"
    assert [p.name for p in tmp_path.iterdir()] == ["model"], "no temporary or old folders are left behind"


def test_plain_hugging_face_folder_gets_a_derived_manifest(tmp_path: Path, tokenizer: Tokenizer) -> None:
    model = build_model("test-micro", tokenizer, seed=5)
    model.save_pretrained(tmp_path / "opus-mt-like")
    tokenizer.save(tmp_path / "opus-mt-like")
    export_checkpoint(tmp_path / "opus-mt-like", tmp_path / "out", "float32")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["model_id"] == "opus-mt-like" and manifest["parameters"] == count_parameters(model)


def test_export_refuses_bad_requests_with_clear_errors(micro_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(KDError, match="unknown quantization 'int4'; choose one of int8, int16, float32"):
        export_checkpoint(micro_checkpoint, tmp_path / "a", "int4")
    with pytest.raises(KDError, match="is the model folder itself"):
        export_checkpoint(micro_checkpoint, micro_checkpoint, "int8")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(KDError, match="exists and is not an export folder"):
        export_checkpoint(micro_checkpoint, tmp_path / "busy", "int8")
    with pytest.raises(CheckpointError, match="not a model folder"):
        export_checkpoint(tmp_path / "busy", tmp_path / "b", "int8")
    (tmp_path / "busy" / EXPORT_INFO).write_text("{")
    with pytest.raises(CheckpointError, match="damaged"):
        read_export_info(tmp_path / "busy")


def test_kd_export_command(micro_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--model", str(micro_checkpoint), "--out", str(tmp_path / "m"),
                 "--quantization", "int16"]) == 0
    assert "(int16," in capsys.readouterr().out and is_export(tmp_path / "m")
    assert main(["export", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "n")]) == 2
    assert "not a model folder" in capsys.readouterr().err
