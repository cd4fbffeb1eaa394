"""Teacher forcing on CTranslate2 exports: the same TopK and Score answers as PyTorch (float32), nearly the same
in int8, for every teacher family, alone and inside an ensemble."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s2s.checkpoint import Checkpoint, load_checkpoint
from s2s.export import export_checkpoint
from s2s.languages import Languages
from s2s.teacher import compute
from s2s.teacher.ct2_scorer import Ct2Scorer
from s2s.teacher.ensemble import Ensemble

SPANISH = ["En el principio crió Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz.", "Amén."]
ENGLISH = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light.", "Amen."]
ES_EN = Languages("es", "en")


def _pairs(ckpt: Checkpoint) -> tuple[list[np.ndarray], list[np.ndarray]]:
    tok = ckpt.tokenizer
    return ([np.array(tok.encode_source(s)) for s in SPANISH], [np.array(tok.encode_target(t)) for t in ENGLISH])


def _scorer(ckpt: Checkpoint, out: Path, quantization: str = "float32") -> Ct2Scorer:
    export_checkpoint(ckpt.path, out, quantization=quantization, languages=ckpt.tokenizer.languages)
    return Ct2Scorer(out, ckpt.model.config, threads=1)


def _assert_same(torch_model: object, scorer: object, ckpt: Checkpoint, atol: float) -> None:
    src, tgt = _pairs(ckpt)
    pad = ckpt.tokenizer.pad_id
    k = 4
    ours, ref = compute.topk(scorer, src, tgt, k, pad), compute.topk(torch_model, src, tgt, k, pad)
    cands = [np.stack([t, np.roll(t, 1)], axis=1) for t in tgt]
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_allclose(a.logq, b.logq, atol=atol)
        np.testing.assert_allclose(a.rest_logmass, b.rest_logmass, atol=atol)
    for a, b in zip(compute.score(scorer, src, tgt, cands, pad), compute.score(torch_model, src, tgt, cands, pad),
                    strict=True):
        np.testing.assert_allclose(a, b, atol=atol)


def test_float32_export_answers_like_pytorch(micro_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(micro_checkpoint)
    _assert_same(ckpt.model, _scorer(ckpt, tmp_path / "f32"), ckpt, atol=1e-4)


@pytest.mark.parametrize("name", ["marian_separate", "t5", "mbart50", "nllb", "m2m100"])
def test_every_family_answers_like_pytorch(tiny_teachers: dict[str, Path], tmp_path: Path, name: str) -> None:
    ckpt = load_checkpoint(tiny_teachers[name], languages=ES_EN)
    _assert_same(ckpt.model, _scorer(ckpt, tmp_path / name), ckpt, atol=1e-4)


def test_targets_with_end_and_pad_tokens_inside_are_forced_as_given(micro_checkpoint: Path, tmp_path: Path) -> None:
    """A student's sample may hold </s> or <pad> before its end: CTranslate2 must not stop there."""
    ckpt = load_checkpoint(micro_checkpoint)
    tok = ckpt.tokenizer
    scorer = _scorer(ckpt, tmp_path / "f32")
    src = [np.array(tok.encode_source(SPANISH[1])), np.array(tok.encode_source(SPANISH[2]))]
    tgt = [np.array([5, tok.eos_id, 7, tok.pad_id, 9, tok.eos_id]), np.array([tok.eos_id])]
    for a, b in zip(compute.topk(scorer, src, tgt, 3, tok.pad_id), compute.topk(ckpt.model, src, tgt, 3, tok.pad_id),
                    strict=True):
        assert a.ids.shape == b.ids.shape
        np.testing.assert_allclose(a.logq, b.logq, atol=1e-4)


def test_int8_is_close_and_an_ensemble_of_exports_mixes_like_pytorch(micro_checkpoint: Path, micro_checkpoint_b: Path,
                                                                    tmp_path: Path) -> None:
    a, b = load_checkpoint(micro_checkpoint), load_checkpoint(micro_checkpoint_b)
    src, tgt = _pairs(a)
    int8 = _scorer(a, tmp_path / "int8", "int8")
    full = [np.exp(r.logq).sum(-1) for r in compute.topk(a.model, src, tgt, 8, a.tokenizer.pad_id)]
    quant = [np.exp(r.logq).sum(-1) for r in compute.topk(int8, src, tgt, 8, a.tokenizer.pad_id)]
    for x, y in zip(full, quant, strict=True):  # the same mass in the top 8, to a few hundredths
        np.testing.assert_allclose(x, y, atol=0.05)
    exports = Ensemble([_scorer(a, tmp_path / "a"), _scorer(b, tmp_path / "b")], [0.6, 0.4])
    _assert_same(Ensemble([a.model, b.model], [0.6, 0.4]), exports, a, atol=1e-4)
