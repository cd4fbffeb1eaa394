"""A plain Hugging Face Marian folder (save_pretrained + tokenizer files, no manifest) serves as a teacher."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from transformers import MarianConfig, MarianMTModel

from s2s.tokenizer import Tokenizer
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient


@pytest.fixture(scope="module")
def hf_marian_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    folder = tmp_path_factory.mktemp("hf") / "opus-mt-tiny-random"
    config = MarianConfig(vocab_size=tokenizer.vocab_size, decoder_vocab_size=tokenizer.vocab_size, d_model=16,
                          encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                          encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
                          pad_token_id=tokenizer.pad_id, eos_token_id=tokenizer.eos_id,
                          decoder_start_token_id=tokenizer.pad_id)
    MarianMTModel(config).save_pretrained(folder)
    for name in ("source.spm", "target.spm", "vocab.json"):
        shutil.copyfile(tokenizer.folder / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def hf_teacher(teacher_factory: Callable[..., TeacherServer], hf_marian_dir: Path) -> TeacherServer:
    return teacher_factory(hf_marian_dir)


def test_hf_marian_folder_serves_topk_and_generate(hf_teacher: TeacherServer, tokenizer: Tokenizer, sentences: Any,
                                                   full_log_softmax: Callable[..., np.ndarray]) -> None:
    src, tgt = sentences
    with TeacherClient(f"127.0.0.1:{hf_teacher.port}", timeout_s=30) as client:
        info = client.check_compatible(tokenizer.fingerprint)
        assert info.model_id == "opus-mt-tiny-random" and info.max_source_len == 64
        results = client.topk(src[:4], tgt[:4], 5)
        hyps = client.generate(src[:2], beam_size=2, nbest=2, max_len=5)
    for s, t, r in zip(src, tgt, results, strict=False):
        ref = full_log_softmax(hf_teacher.checkpoint.model, s, t, tokenizer.pad_id)
        np.testing.assert_allclose(r.logq, np.take_along_axis(ref, r.ids, axis=-1), atol=1e-2)
        np.testing.assert_allclose(r.logq, -np.sort(-ref, axis=-1)[:, :5], atol=1e-2)
    assert [len(h) for h in hyps] == [2, 2] and all(0 < len(h.ids) <= 5 for n in hyps for h in n)
