"""Ensembles in the shared ML layer: the mixture's distributions, and the beam search over all members."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from s2s.checkpoint import Checkpoint, load_checkpoint
from s2s.decoding import generate_nbest
from s2s.errors import KDError, VocabularyMismatchError
from s2s.languages import Languages
from s2s.teacher import compute
from s2s.teacher.ensemble import Ensemble, check_members
from s2s.teacher.ensemble_search import ensemble_nbest
from s2s.tokenizer import Tokenizer

SPANISH = ["En el principio crió Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz: y fué la luz.", "Amén."]
ENGLISH = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light.", "Amen."]
WEIGHTS = (0.7, 0.3)


@pytest.fixture(scope="module")
def members(reference_teacher_dir: Path, micro_checkpoint_b: Path) -> list[Checkpoint]:
    """The trained reference teacher (peaked distributions) and a tiny random one (flat distributions)."""
    return [load_checkpoint(reference_teacher_dir), load_checkpoint(micro_checkpoint_b)]


@pytest.fixture(scope="module")
def ensemble(members: list[Checkpoint]) -> Ensemble:
    return Ensemble([m.model for m in members], WEIGHTS)


@pytest.fixture(scope="module")
def micro_members(micro_checkpoint: Path, micro_checkpoint_b: Path) -> list[Checkpoint]:
    """Two tiny random teachers on one vocabulary (fast to decode step by step)."""
    return [load_checkpoint(micro_checkpoint), load_checkpoint(micro_checkpoint_b)]


@pytest.fixture(scope="module")
def pairs(tokenizer: Tokenizer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return ([np.array(tokenizer.encode_source(s)) for s in SPANISH],
            [np.array(tokenizer.encode_target(t)) for t in ENGLISH])


@torch.inference_mode()
def _mixture(models: list[Any], weights: tuple[float, ...], src: list[int], prefix: list[int]) -> np.ndarray:
    """log sum_i w_i q_i(. | prefix) at every decoder position, one unpadded uncached pass per member."""
    probs = 0.0
    for model, weight in zip(models, weights, strict=True):
        start = model.config.decoder_start_token_id
        logits = model(input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([[start, *prefix]])).logits[0]
        probs = probs + weight * torch.softmax(logits.double(), dim=-1)
    return torch.log(probs).numpy()  # type: ignore[union-attr]


def test_topk_and_score_answer_from_the_weighted_mean_of_the_members(ensemble: Ensemble, members: list[Checkpoint],
                                                                     pairs: tuple, tokenizer: Tokenizer) -> None:
    src, tgt = pairs
    models = [m.model for m in members]
    topk = compute.topk(ensemble, src, tgt, 5, tokenizer.pad_id)
    cands = [np.stack([t, np.roll(t, 1), np.full_like(t, 7)], axis=1) for t in tgt]
    scores = compute.score(ensemble, src, tgt, cands, tokenizer.pad_id)
    for s, t, top, cand, got in zip(src, tgt, topk, cands, scores, strict=True):
        ref = _mixture(models, WEIGHTS, s.tolist(), t[:-1].tolist())
        order = np.argsort(-ref, axis=-1)[:, :5]
        np.testing.assert_array_equal(top.ids, order)
        np.testing.assert_allclose(top.logq, np.take_along_axis(ref, order, -1), atol=2e-5)
        rest = np.log1p(-np.exp(np.take_along_axis(ref, order, -1)).sum(-1))
        np.testing.assert_allclose(top.rest_logmass, rest, atol=1e-4)
        np.testing.assert_allclose(got, np.take_along_axis(ref, cand, -1), atol=2e-5)
    # Neither member alone: the mixture differs from each (the flat member moves the mass visibly).
    alone = compute.topk(members[0].model, src, tgt, 5, tokenizer.pad_id)
    assert not np.allclose(alone[0].logq, topk[0].logq, atol=1e-2)


def test_greedy_ensemble_search_is_greedy_decoding_of_the_averaged_model(micro_members: list[Checkpoint],
                                                                         pairs: tuple, tokenizer: Tokenizer) -> None:
    src, max_len = pairs[0], 10
    models = [m.model for m in micro_members]
    found = compute.nbest(Ensemble(models, WEIGHTS), src, tokenizer.pad_id, 1, 1, max_len)
    for s, (hyp,) in zip(src, found, strict=True):
        out: list[int] = []
        logq = []
        while len(out) < max_len and (not out or out[-1] != tokenizer.eos_id):
            step = _mixture(models, WEIGHTS, s.tolist(), out)[-1]
            at_cap = len(out) == max_len - 1  # where </s> is forced, with probability one
            out.append(tokenizer.eos_id if at_cap else int(step.argmax()))
            logq.append(0.0 if at_cap else float(step[out[-1]]))
        assert hyp.ids == out
        assert hyp.score == pytest.approx(float(np.mean(logq)), abs=1e-4)


@pytest.mark.parametrize(("beam", "nbest"), [(1, 1), (4, 3)])
def test_a_one_member_search_equals_hugging_face_beam_search(members: list[Checkpoint], pairs: tuple,
                                                             tokenizer: Tokenizer, beam: int, nbest: int) -> None:
    """The search ranks, finishes and scores hypotheses as `generate_nbest` (Hugging Face) does (on the
    trained teacher, whose hypotheses end in </s> at different lengths)."""
    model, src = members[0].model, [s.tolist() for s in pairs[0][1:]]
    ours = ensemble_nbest([model], [0.0], src, tokenizer.pad_id, beam, nbest, 16)
    theirs = generate_nbest(model, src, tokenizer.pad_id, beam, nbest, 16)
    for a, b in zip(ours, theirs, strict=True):
        assert [h.ids for h in a] == [h.ids for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)


@pytest.mark.parametrize("name", ["t5", "nllb"])
def test_the_search_decodes_other_families_on_their_caches(tiny_teachers: dict[str, Path], name: str) -> None:
    """T5's relative positions and NLLB's forced language code, through the cached decoder steps."""
    ckpt = load_checkpoint(tiny_teachers[name], languages=Languages("es", "en"))
    tok = ckpt.tokenizer
    src = [tok.encode_source(s) for s in SPANISH]
    ours = ensemble_nbest([ckpt.model], [0.0], src, tok.pad_id, 3, 2, 8, forced_bos_id=tok.forced_bos_id)
    theirs = generate_nbest(ckpt.model, src, tok.pad_id, 3, 2, 8, forced_bos_id=tok.forced_bos_id)
    assert [[h.ids for h in x] for x in ours] == [[h.ids for h in x] for x in theirs]
    if tok.forced_bos_id is not None:
        assert all(h.ids[0] == tok.forced_bos_id for x in ours for h in x)


def test_members_of_different_vocabularies_are_refused_naming_both(micro_checkpoint: Path,
                                                                    tiny_teachers: dict[str, Path]) -> None:
    ours, other = load_checkpoint(micro_checkpoint), load_checkpoint(tiny_teachers["marian_separate"])
    with pytest.raises(VocabularyMismatchError, match="share one vocabulary") as caught:
        check_members([ours, other])
    assert str(micro_checkpoint) in str(caught.value) and str(tiny_teachers["marian_separate"]) in str(caught.value)


def test_an_ensemble_needs_two_members_and_positive_weights(members: list[Checkpoint]) -> None:
    with pytest.raises(KDError, match="at least two"):
        Ensemble([members[0].model], [1.0])
    with pytest.raises(KDError, match="positive weights"):
        Ensemble([m.model for m in members], [1.0, 0.0])
    assert Ensemble([m.model for m in members], [3.0, 1.0]).weights == (0.75, 0.25)
