"""TIE-KD: Word-KD plus the hierarchical ranking loss on the teacher's top-k.

The ranking loss asks the teacher's top-1 to be the student's top-1 and its top-k to rank above the rest
(by `margin` nats), `rank_weight` times; with `on_policy: greedy` it is TIE-KD's iterative distillation
on the student's own translations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from s2s.losses import tie_kd_loss, word_kd_loss
from student_trainer.batches import BatchTensors
from student_trainer.objectives import settings as shared
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import (
    DistillSettings,
    MixedByAlpha,
    OnPolicy,
    OnPolicyTargets,
    non_negative,
    setting,
)
from student_trainer.objectives.terms import Answers, DistillTerm


@dataclass(frozen=True)
class TIEKDSettings(MixedByAlpha, OnPolicyTargets, DistillSettings):
    """α mixes Word-KD plus the ranking loss with the NLL."""

    kind: ClassVar[str] = "tie_kd"

    alpha: float = shared.alpha()
    k: int = shared.top_k()
    tail: bool = shared.tail()
    margin: float = setting(1.0, "the ranking loss's margin, in nats", non_negative)
    rank_weight: float = setting(1.0, "the ranking loss's weight next to Word-KD", non_negative)
    on_policy: OnPolicy = shared.on_policy()


class TIEKD(DistillTerm[TIEKDSettings]):
    """Word-KD plus `rank_weight` times the hierarchical ranking loss on the teacher's top-k."""

    needs = frozenset({"topk"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = a.need_topk()
        s = self.settings
        ranking = tie_kd_loss(logits, top.ids, t.target_mask, margin=s.margin)
        kd = word_kd_loss(logits, top.ids, top.logq, top.rest_logmass, t.target_mask, tail=s.tail)
        return kd + s.rank_weight * ranking


OBJECTIVE = ObjectiveInfo(TIEKDSettings, "TIE-KD: Word-KD + the hierarchical ranking loss (teacher's top-1 first, "
                                         "its top-k above the rest)", distillation, supports={"teacher": TIEKD})
