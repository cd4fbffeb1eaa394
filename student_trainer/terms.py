"""The distillation term of each recipe loss as one small object: what it needs and what it computes.

A term says which teacher answers it needs (the `TopK` of the batch's targets, the `Score` of candidate
ids, the teacher's full logits), which candidates to send to `Score`, on which targets it is computed
(the references, or the student's own greedy or sampled translations) and which recipe weight mixes it
with the NLL. The trainer asks the term instead of branching on loss names; `KINDS` is the one table of
loss kinds, their supports and their defaults, which recipe validation reads too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from s2s.losses import (
    jsd_loss,
    ka_exact_loss,
    ka_loss,
    ka_sampled_loss,
    student_candidates,
    tie_kd_loss,
    word_kd_loss,
)
from student_trainer.batches import BatchTensors
from student_trainer.recipe import LossSpec
from student_trainer.teacher_link import TopKTensors

Need = Literal["topk", "score", "full_logits"]
Rollout = Literal["reference", "sample", "greedy", "exact_sample"]


@dataclass(frozen=True)
class Answers:
    """The teacher's answers for one batch, as tensors (None where the term did not ask)."""

    topk: TopKTensors | None = None
    cands: torch.Tensor | None = None
    cand_logq: torch.Tensor | None = None
    teacher_logits: torch.Tensor | None = None


@dataclass(frozen=True)
class KindInfo:
    """A loss kind's supports (the first is the default for `support: auto`) and its mixing weight."""

    supports: tuple[str, ...]
    weight: Literal["alpha", "lam"]


KINDS: dict[str, KindInfo] = {
    "word_kd": KindInfo(("teacher", "student"), "alpha"),
    "ka": KindInfo(("student", "teacher", "full"), "lam"),
    "ka_sampled": KindInfo(("sampled",), "lam"),
    "jsd": KindInfo(("both",), "alpha"),
    "tie_kd": KindInfo(("teacher",), "alpha"),
}


def resolved_support(loss: LossSpec) -> str:
    """The support a loss uses once `auto` is replaced by its kind's default ("none" for NLL)."""
    if loss.kind in ("nll", "cmlm"):
        return "none"
    return KINDS[loss.kind].supports[0] if loss.support == "auto" else loss.support


class DistillTerm:
    """Base: the term D of `(1-w)·NLL + w·D` on one batch (per real target token, mean-reduced)."""

    needs: frozenset[Need] = frozenset()

    def __init__(self, spec: LossSpec) -> None:
        self.spec = spec
        self.form = "renormalised" if spec.renormalise else "tail"
        self.rollout: Rollout = "reference" if spec.on_policy == "off" else spec.on_policy

    @property
    def weight(self) -> float:
        return float(getattr(self.spec, KINDS[self.spec.kind].weight))

    def candidates(self, logits: torch.Tensor, t: BatchTensors, generator: torch.Generator | None) -> torch.Tensor:
        """[B, T, c] ids whose teacher log q the term needs (terms that need `score` override this)."""
        raise NotImplementedError

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        raise NotImplementedError


def _need(value: torch.Tensor | TopKTensors | None, what: str) -> torch.Tensor | TopKTensors:
    if value is None:
        raise RuntimeError(f"the objective did not fetch {what}, which this term declared it needs")
    return value


class _StudentCandidates(DistillTerm):
    """Terms scored on the student's own top-k' (or sampled k') ids."""

    def candidates(self, logits: torch.Tensor, t: BatchTensors, generator: torch.Generator | None) -> torch.Tensor:
        return student_candidates(logits.detach(), self.spec.k_prime, sample=self.spec.sample_candidates,
                                  generator=generator)


class WordKD(DistillTerm):
    """Forward KL on the teacher's top-k plus the rest mass (Kim & Rush 2016)."""

    needs = frozenset({"topk"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = _need(a.topk, "TopK")
        assert isinstance(top, TopKTensors)
        return word_kd_loss(logits, top.ids, top.logq, top.rest_logmass, t.target_mask, tail=self.spec.tail)


class WordKDOnStudentSupport(_StudentCandidates):
    """Forward KL on the student's top-k' (the teacher's log q from `Score`), rest mass from their sum."""

    needs = frozenset({"score"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        logq = _need(a.cand_logq, "Score")
        assert isinstance(logq, torch.Tensor)
        rest = torch.log1p(-logq.exp().sum(-1).clamp(max=1.0 - 1e-6))
        return word_kd_loss(logits, _need(a.cands, "candidates"), logq, rest, t.target_mask,  # type: ignore[arg-type]
                            tail=self.spec.tail)


class KA(_StudentCandidates):
    """Reverse KL on the student's candidates plus the rest mass (Knowledge Acquisition)."""

    needs = frozenset({"score"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        return ka_loss(logits, _need(a.cands, "candidates"), _need(a.cand_logq, "Score"),  # type: ignore[arg-type]
                       t.target_mask, form=self.form)  # type: ignore[arg-type]


class KAOnTeacherSupport(DistillTerm):
    """Reverse KL on the teacher's top-k plus the rest mass (the teacher chooses the support)."""

    needs = frozenset({"topk"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = _need(a.topk, "TopK")
        assert isinstance(top, TopKTensors)
        return ka_loss(logits, top.ids, top.logq, t.target_mask, form=self.form)  # type: ignore[arg-type]


class KAExact(DistillTerm):
    """The exact full-vocabulary reverse KL (an in-process teacher's full logits)."""

    needs = frozenset({"full_logits"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        return ka_exact_loss(logits, _need(a.teacher_logits, "full logits"), t.target_mask)  # type: ignore[arg-type]


class KASampled(DistillTerm):
    """The single-sample on-policy estimator: targets sampled from p, the teacher scores each sampled token."""

    needs = frozenset({"score"})

    def __init__(self, spec: LossSpec) -> None:
        super().__init__(spec)
        self.rollout = "exact_sample"

    def candidates(self, logits: torch.Tensor, t: BatchTensors, generator: torch.Generator | None) -> torch.Tensor:
        return t.labels.unsqueeze(-1)

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        logq = _need(a.cand_logq, "Score")
        assert isinstance(logq, torch.Tensor)
        return ka_sampled_loss(logits, t.labels, logq.squeeze(-1), t.target_mask)


class JSD(_StudentCandidates):
    """β·KA (student's candidates + rest) + (1-β)·Word-KD (teacher's top-k + rest)."""

    needs = frozenset({"topk", "score"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = _need(a.topk, "TopK")
        assert isinstance(top, TopKTensors)
        return jsd_loss(logits, top.ids, top.logq, top.rest_logmass, _need(a.cands, "candidates"),  # type: ignore[arg-type]
                        _need(a.cand_logq, "Score"), t.target_mask, beta=self.spec.beta,  # type: ignore[arg-type]
                        tail=self.spec.tail, form=self.form)  # type: ignore[arg-type]


class TIEKD(WordKD):
    """Word-KD plus `rank_weight` times the hierarchical ranking loss on the teacher's top-k."""

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = _need(a.topk, "TopK")
        assert isinstance(top, TopKTensors)
        ranking = tie_kd_loss(logits, top.ids, t.target_mask, margin=self.spec.margin)
        return super().__call__(logits, t, a) + self.spec.rank_weight * ranking


_TERMS: dict[tuple[str, str], type[DistillTerm]] = {
    ("word_kd", "teacher"): WordKD,
    ("word_kd", "student"): WordKDOnStudentSupport,
    ("ka", "student"): KA,
    ("ka", "teacher"): KAOnTeacherSupport,
    ("ka", "full"): KAExact,
    ("ka_sampled", "sampled"): KASampled,
    ("jsd", "both"): JSD,
    ("tie_kd", "teacher"): TIEKD,
}


def make_term(spec: LossSpec) -> DistillTerm | None:
    """The recipe's distillation term (None for plain NLL); the recipe was validated against `KINDS`."""
    if spec.kind in ("nll", "cmlm"):
        return None
    return _TERMS[(spec.kind, resolved_support(spec))](spec)
