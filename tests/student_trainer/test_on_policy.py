"""The student's own translations: exact sampling for the single-sample estimator, and the term objects."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from s2s.presets import build_model
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch, forward_logits, to_tensors
from student_trainer.objectives.ka import KA
from student_trainer.objectives.ka_sampled import KASampled
from student_trainer.objectives.registry import lookup, make_settings, objectives
from student_trainer.objectives.settings import ObjectiveSettings
from student_trainer.objectives.terms import DistillTerm
from student_trainer.objectives.word_kd import WordKD
from student_trainer.on_policy import sample_exactly


def _batch(tokenizer: Tokenizer) -> Batch:
    src = [tokenizer.encode_source(s, 32) for s in ("Y dijo Dios: Sea la luz.", "En el principio.")]
    return Batch(src, [[5, 6, tokenizer.eos_id], [7, tokenizer.eos_id]])


def test_exact_samples_follow_the_plain_softmax_of_the_model_in_eval_mode(tokenizer: Tokenizer) -> None:
    """Sampled ids have the probabilities the teacher-forced eval forward gives them (the same p), the
    sampler returns the model to train mode, and ends every row at its first </s> or <pad>."""
    model = build_model("test-micro", tokenizer, seed=3).train()
    batch = _batch(tokenizer)
    own = sample_exactly(model, batch, tokenizer.pad_id, torch.device("cpu"), torch.Generator().manual_seed(0),
                         extra_len=4)
    assert model.training and own.src == batch.src
    for row in own.tgt:
        ends = [i for i, tok in enumerate(row) if tok in (tokenizer.eos_id, tokenizer.pad_id)]
        assert ends in ([], [len(row) - 1]) and len(row) <= 3 + 4
    model.eval()
    t = to_tensors(own, tokenizer.pad_id)
    logp = F.log_softmax(forward_logits(model, t), -1).gather(-1, t.labels.unsqueeze(-1)).squeeze(-1)
    assert torch.isfinite(logp[t.target_mask]).all()


def test_exact_sampling_can_draw_pad_and_eos_because_nothing_is_banned(tokenizer: Tokenizer) -> None:
    model = build_model("test-micro", tokenizer, seed=3)
    with torch.no_grad():
        model.final_logits_bias.fill_(-30.0)
        model.final_logits_bias[0, tokenizer.pad_id] = 30.0
    own = sample_exactly(model, _batch(tokenizer), tokenizer.pad_id, torch.device("cpu"))
    assert own.tgt == [[tokenizer.pad_id], [tokenizer.pad_id]]


def make_term(kind: str, **values: object) -> DistillTerm[Any] | None:
    settings: ObjectiveSettings = make_settings(kind, **values)
    return lookup(kind).term(settings)


def test_terms_declare_what_they_need_and_their_weight() -> None:
    assert isinstance(make_term("word_kd", alpha=0.3), WordKD)
    ka = make_term("ka", lam=0.7)
    assert isinstance(ka, KA) and ka.needs == {"score"} and ka.weight == 0.7 and ka.form == "tail"
    assert make_term("ka", renormalise=True).form == "renormalised"  # type: ignore[union-attr]
    sampled = make_term("ka_sampled")
    assert isinstance(sampled, KASampled) and sampled.rollout == "exact_sample"
    jsd = make_term("jsd")
    assert jsd is not None and jsd.needs == {"topk", "score"}
    assert make_term("nll") is None
    assert make_term("ka", support="full").needs == {"full_logits"}  # type: ignore[union-attr]
    assert {o.name for o in objectives() if o.supports} == {
        "word_kd", "word_kd_sampled", "ka", "ka_sampled", "jsd", "tie_kd"}
