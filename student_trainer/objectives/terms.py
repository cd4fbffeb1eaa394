"""The distillation term D of `(1-w)·NLL + w·D`: the base every objective's term classes build on.

A term says which teacher answers it needs (`needs`: the `TopK` of the batch's targets, the `Score` of
candidate ids, the teacher's full logits), which candidates to send to `Score`, on which targets it runs
(`rollout`: the references, or the student's own greedy or sampled translations) and its weight w. Each
objective's module defines its terms (one per support) on these bases; `student_trainer.objectives.distill`
fetches what a term needs and runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar, cast

import torch

from s2s.losses import student_candidates
from s2s.teacher.contract import Signal
from student_trainer.batches import BatchTensors
from student_trainer.objectives.settings import DistillSettings, Need, Rollout
from student_trainer.teacher_link import SampledTensors, TopKTensors

S = TypeVar("S", bound=DistillSettings)


@dataclass(frozen=True)
class Answers:
    """The teacher's answers for one batch, as tensors (None where the term did not ask)."""

    topk: TopKTensors | None = None
    sampled: SampledTensors | None = None
    cands: torch.Tensor | None = None
    cand_logq: torch.Tensor | None = None
    teacher_logits: torch.Tensor | None = None

    def need_topk(self) -> TopKTensors:
        if self.topk is None:
            raise RuntimeError("the step did not fetch TopK, which this term declared it needs")
        return self.topk

    def need_sampled(self) -> SampledTensors:
        if self.sampled is None:
            raise RuntimeError("the step did not fetch the sampled signal, which this term declared it needs")
        return self.sampled

    def need_scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The candidate ids sent to `Score` and the teacher's log q of each."""
        if self.cands is None or self.cand_logq is None:
            raise RuntimeError("the step did not fetch Score, which this term declared it needs")
        return self.cands, self.cand_logq

    def need_teacher_logits(self) -> torch.Tensor:
        if self.teacher_logits is None:
            raise RuntimeError("the step did not compute the teacher's full logits, which this term needs")
        return self.teacher_logits


class TopKSettings(Protocol):
    """Settings of a term computed on the teacher's top-k."""

    @property
    def k(self) -> int: ...


class CandidateSettings(Protocol):
    """Settings of a term scored on the student's own candidates."""

    @property
    def k_prime(self) -> int: ...

    @property
    def sample_candidates(self) -> bool: ...


class DistillTerm(Generic[S]):
    """Base: the term D on one batch (per real target token, mean-reduced), for settings of type S."""

    needs: ClassVar[frozenset[Need]] = frozenset()

    def __init__(self, settings: S) -> None:
        self.settings = settings
        self.rollout: Rollout = settings.rollout

    @property
    def weight(self) -> float:
        return self.settings.weight

    @property
    def k(self) -> int:
        """The teacher's top-k that a term needing `topk` asks for (its settings have `k`)."""
        return cast(TopKSettings, self.settings).k

    @property
    def signal(self) -> Signal | None:
        """The answer on the batch's targets this term needs (TopK of width k, or the sampled signal), or None.
        A term needing `sampled` overrides this with its draws' m and seed."""
        return Signal("topk", self.k) if "topk" in self.needs else None

    def candidates(self, logits: torch.Tensor, t: BatchTensors, generator: torch.Generator | None) -> torch.Tensor:
        """[B, T, c] ids whose teacher log q the term needs (terms that need `score` override this)."""
        raise NotImplementedError(f"{type(self).__name__} does not send candidates to Score")

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        raise NotImplementedError


class StudentCandidates(DistillTerm[S]):
    """Terms scored on the student's own top-k' (or k' sampled) ids; their settings have `k_prime` and
    `sample_candidates`."""

    needs = frozenset({"score"})

    def candidates(self, logits: torch.Tensor, t: BatchTensors, generator: torch.Generator | None) -> torch.Tensor:
        own = cast(CandidateSettings, self.settings)
        return student_candidates(logits.detach(), own.k_prime, sample=own.sample_candidates, generator=generator)
