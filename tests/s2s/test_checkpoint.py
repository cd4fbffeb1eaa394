"""Checkpoint round trip, refusal of mismatched artefacts, atomic saves, and HF Marian folders as teachers."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import MarianConfig, MarianMTModel

from s2s import atomic
from s2s.checkpoint import FORMAT_VERSION, Manifest, load_checkpoint, save_checkpoint
from s2s.errors import CheckpointError, VocabularyMismatchError
from s2s.presets import PRESETS, build_model, count_parameters, get_preset
from s2s.tokenizer import Tokenizer


def _manifest(tokenizer: Tokenizer, model: MarianMTModel) -> Manifest:
    return Manifest(model_id="m", vocab_fingerprint=tokenizer.fingerprint, parameters=count_parameters(model),
                    parent_teacher="t", preset="test-micro", recipe={"loss": "nll"}, metrics={"bleu": 1.5})


def test_round_trip_keeps_weights_and_manifest(tokenizer: Tokenizer, tmp_path: Path) -> None:
    model = build_model("test-micro", tokenizer, seed=3)
    manifest = _manifest(tokenizer, model)
    save_checkpoint(model, tokenizer, tmp_path / "c", manifest)
    loaded = load_checkpoint(tmp_path / "c", expected_fingerprint=tokenizer.fingerprint)
    assert loaded.manifest == manifest
    for (name, a), b in zip(model.state_dict().items(), loaded.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert loaded.tokenizer.fingerprint == tokenizer.fingerprint


def test_presets_have_the_documented_shapes(tokenizer: Tokenizer) -> None:
    tiny = get_preset("student-tiny")
    assert (tiny.encoder_layers, tiny.decoder_layers, tiny.d_model, tiny.heads) == (1, 1, 128, 2)
    assert (PRESETS["teacher-small"].encoder_layers, PRESETS["student-small"].decoder_layers) == (3, 1)
    params = count_parameters(build_model("student-tiny", tokenizer))
    assert 1.2e6 < params < 1.8e6, params


def test_wrong_format_version_is_refused(micro_checkpoint: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(micro_checkpoint, tmp_path / "c")
    data = json.loads((copy / "manifest.json").read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1}"):
        load_checkpoint(copy)


def test_fingerprint_mismatch_names_both(micro_checkpoint: Path, tokenizer: Tokenizer) -> None:
    with pytest.raises(VocabularyMismatchError, match=r"expected vocabulary has fingerprint 0000000000000000"):
        load_checkpoint(micro_checkpoint, expected_fingerprint="0" * 64)


def test_manifest_tokenizer_mismatch_is_refused(micro_checkpoint: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(micro_checkpoint, tmp_path / "c")
    data = json.loads((copy / "manifest.json").read_text())
    data["vocab_fingerprint"] = "f" * 64
    (copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(VocabularyMismatchError, match="ffffffffffffffff"):
        load_checkpoint(copy)


def test_interrupted_save_leaves_the_old_checkpoint(tokenizer: Tokenizer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model("test-micro", tokenizer, seed=3)
    out = save_checkpoint(model, tokenizer, tmp_path / "c", _manifest(tokenizer, model))
    before = sorted(p.name for p in out.iterdir())

    def crash(tmp: Path, out_dir: Path) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(atomic, "swap_into_place", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, tokenizer, out, replace(_manifest(tokenizer, model), model_id="new"))
    assert sorted(p.name for p in out.iterdir()) == before
    assert load_checkpoint(out).manifest.model_id == "m"
    assert [p.name for p in tmp_path.iterdir()] == ["c"], "temporary folders must be cleaned up"


def test_resave_replaces_atomically(tokenizer: Tokenizer, tmp_path: Path) -> None:
    model = build_model("test-micro", tokenizer, seed=3)
    out = save_checkpoint(model, tokenizer, tmp_path / "c", _manifest(tokenizer, model))
    save_checkpoint(model, tokenizer, out, replace(_manifest(tokenizer, model), model_id="second"))
    assert load_checkpoint(out).manifest.model_id == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_hf_saved_marian_folder_loads_as_teacher(tokenizer: Tokenizer, tmp_path: Path) -> None:
    config = MarianConfig(vocab_size=tokenizer.vocab_size, decoder_vocab_size=tokenizer.vocab_size, d_model=16,
                          encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                          decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                          pad_token_id=tokenizer.pad_id, eos_token_id=tokenizer.eos_id,
                          decoder_start_token_id=tokenizer.pad_id, max_position_embeddings=64)
    MarianMTModel(config).save_pretrained(tmp_path / "opus-mt-tiny")
    tokenizer.save(tmp_path / "opus-mt-tiny")
    loaded = load_checkpoint(tmp_path / "opus-mt-tiny", expected_fingerprint=tokenizer.fingerprint)
    assert loaded.manifest.model_id == "opus-mt-tiny"
    assert loaded.manifest.parameters == count_parameters(loaded.model) > 0


def test_folder_without_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(tmp_path)


def test_a_trained_student_is_saved_as_it_was_trained(micro_checkpoint: Path, tmp_path: Path) -> None:
    """Every parameter training can change is one the checkpoint keeps: the sinusoidal position tables,
    which Marian does not save (they are rebuilt on load), stay frozen, so the saved student computes what
    the trained one did. (transformers 5 leaves them trainable after `from_pretrained`.)"""
    student = load_checkpoint(micro_checkpoint)
    model = student.model.train()
    ignored = set(getattr(model, "_keys_to_ignore_on_save", None) or [])
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert ignored and not trainable & ignored
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    src = torch.tensor([[5, 6, 7, 8, 2]])
    tgt = torch.tensor([[9, 10, 11, 2]])
    for _ in range(3):
        optimizer.zero_grad()
        model(input_ids=src, labels=tgt).loss.backward()
        optimizer.step()
    model.eval()
    save_checkpoint(model, student.tokenizer, tmp_path / "trained", student.manifest)
    again = load_checkpoint(tmp_path / "trained").model
    with torch.no_grad():
        assert torch.equal(model(input_ids=src, labels=tgt).logits, again(input_ids=src, labels=tgt).logits)
