"""Word-KD (Kim & Rush 2016): `(1-α)·NLL + α·KL(q‖p)` on the teacher's top-k plus the rest mass.

On the teacher's support (the default) the term needs the batch's `TopK`, which the loop requests ahead;
on the student's support it matches the teacher's q on the student's top-k' (`Score`) plus a tail bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from s2s.losses import word_kd_loss
from student_trainer.batches import BatchTensors
from student_trainer.objectives import settings as shared
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import DistillSettings, MixedByAlpha, OnPolicy, OnPolicyTargets
from student_trainer.objectives.terms import Answers, DistillTerm, StudentCandidates


@dataclass(frozen=True)
class WordKDSettings(MixedByAlpha, OnPolicyTargets, DistillSettings):
    """α mixes the KD term with the NLL; k (teacher's support) or k' (student's support) sizes it."""

    kind: ClassVar[str] = "word_kd"

    alpha: float = shared.alpha()
    k: int = shared.top_k()
    k_prime: int = shared.k_prime()
    tail: bool = shared.tail()
    sample_candidates: bool = shared.sample_candidates()
    on_policy: OnPolicy = shared.on_policy()


class WordKD(DistillTerm[WordKDSettings]):
    """Forward KL on the teacher's top-k plus the rest mass."""

    needs = frozenset({"topk"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = a.need_topk()
        return word_kd_loss(logits, top.ids, top.logq, top.rest_logmass, t.target_mask, tail=self.settings.tail)


class WordKDOnStudentSupport(StudentCandidates[WordKDSettings]):
    """Forward KL on the student's top-k' (the teacher's log q from `Score`), rest mass from their sum."""

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        cands, logq = a.need_scores()
        rest = torch.log1p(-logq.exp().sum(-1).clamp(max=1.0 - 1e-6))
        return word_kd_loss(logits, cands, logq, rest, t.target_mask, tail=self.settings.tail)


OBJECTIVE = ObjectiveInfo(
    WordKDSettings, "Word-KD: (1-α)·NLL + α·KL(q‖p) over the teacher's top-k plus the rest mass", distillation,
    supports={"teacher": WordKD, "student": WordKDOnStudentSupport})
