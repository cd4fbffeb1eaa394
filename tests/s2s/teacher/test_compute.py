"""Teacher computations on a model in this process: top-k with remaining mass, candidate scores, n-best."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from s2s.checkpoint import Checkpoint, load_checkpoint
from s2s.teacher import compute
from s2s.tokenizer import Tokenizer

SPANISH = ["En el principio crió Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz: y fué la luz.",
           "Y vió Dios que la luz era buena."]
ENGLISH = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light.",
           "And God saw the light, that it was good."]


@pytest.fixture(scope="module")
def reference(reference_teacher_dir: Path) -> Checkpoint:
    """The trained reference teacher: peaked distributions, where the remaining mass is tiny."""
    return load_checkpoint(reference_teacher_dir)


@pytest.fixture(scope="module")
def pairs(tokenizer: Tokenizer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return ([np.array(tokenizer.encode_source(s)) for s in SPANISH],
            [np.array(tokenizer.encode_target(t)) for t in ENGLISH])


@torch.inference_mode()
def _log_softmax(model: torch.nn.Module, src: np.ndarray, tgt: np.ndarray, pad: int) -> np.ndarray:
    dec = torch.tensor([[pad, *tgt[:-1].tolist()]])
    logits = model(input_ids=torch.tensor([src.tolist()]), decoder_input_ids=dec).logits[0]
    return torch.log_softmax(logits.double(), -1).numpy()


def test_topk_and_remaining_mass_match_the_full_distribution(reference: Checkpoint, pairs: tuple, tokenizer: Tokenizer
                                                             ) -> None:
    model = reference.model
    src, tgt = pairs
    results = compute.topk(model, src, tgt, 16, tokenizer.pad_id, max_tokens=64)  # small budget: several chunks
    for s, t, r in zip(src, tgt, results, strict=True):
        ref = _log_softmax(model, s, t, tokenizer.pad_id)
        order = np.argsort(-ref, axis=-1)[:, :16]
        np.testing.assert_array_equal(r.ids, order)
        np.testing.assert_allclose(r.logq, np.take_along_axis(ref, order, -1), atol=1e-4)
        rest = ref.copy()
        np.put_along_axis(rest, order, -np.inf, -1)
        # Exact even where the top-16 holds nearly all the mass (log(1 - sum) would lose it in float32).
        np.testing.assert_allclose(r.rest_logmass, np.logaddexp.reduce(rest, -1), rtol=1e-3, atol=1e-5)
    assert min(float(r.rest_logmass.min()) for r in results) < -4  # the test covered peaked positions


def test_k_equal_to_the_vocabulary_leaves_no_mass(micro_checkpoint: Path, tokenizer: Tokenizer, pairs: tuple) -> None:
    model = load_checkpoint(micro_checkpoint).model
    r = compute.topk(model, pairs[0][:1], pairs[1][:1], tokenizer.vocab_size, tokenizer.pad_id)[0]
    assert np.all(np.isneginf(r.rest_logmass))
    np.testing.assert_allclose(np.exp(r.logq.astype(np.float64)).sum(-1), 1.0, atol=1e-4)


def test_score_gathers_the_log_softmax_at_the_candidates(reference: Checkpoint, pairs: tuple, tokenizer: Tokenizer
                                                         ) -> None:
    model = reference.model
    src, tgt = pairs
    rng = np.random.default_rng(0)
    cands = [rng.integers(0, tokenizer.vocab_size, size=(len(t), 2 + i)) for i, t in enumerate(tgt)]
    for s, t, c, got in zip(src, tgt, cands, compute.score(model, src, tgt, cands, tokenizer.pad_id), strict=True):
        np.testing.assert_allclose(got, np.take_along_axis(_log_softmax(model, s, t, tokenizer.pad_id), c, -1),
                                   atol=1e-4)


def test_nbest_translates_with_the_reference_teacher(reference: Checkpoint, pairs: tuple, tokenizer: Tokenizer) -> None:
    hyps = compute.nbest(reference.model, pairs[0][:2], tokenizer.pad_id, beam_size=2, n=2, max_len=24)
    assert [len(h) for h in hyps] == [2, 2]
    assert hyps[0][0].score >= hyps[0][1].score
    assert "God" in tokenizer.decode(hyps[0][0].ids)
