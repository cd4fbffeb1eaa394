""""JSD": `(1-α)·NLL + α·(β·KA + (1-β)·Word-KD)` -- both divergences, each on its own support.

KA is the reverse KL on the student's k' candidates (`Score`), Word-KD the forward KL on the teacher's
top-k (`TopK`); β = 0.5 is ½KA + ½KD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from s2s.losses import KAForm, jsd_loss
from student_trainer.batches import BatchTensors
from student_trainer.objectives import settings as shared
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import DistillSettings, MixedByAlpha, OnPolicy, OnPolicyTargets, setting, unit
from student_trainer.objectives.terms import Answers, StudentCandidates


@dataclass(frozen=True)
class JSDSettings(MixedByAlpha, OnPolicyTargets, DistillSettings):
    """α mixes the term with the NLL, β is KA's share inside it."""

    kind: ClassVar[str] = "jsd"

    alpha: float = shared.alpha()
    beta: float = setting(0.5, "β, the KA share of the term: β·KA + (1-β)·Word-KD", unit)
    k: int = shared.top_k()
    k_prime: int = shared.k_prime()
    tail: bool = shared.tail()
    renormalise: bool = shared.renormalise()
    sample_candidates: bool = shared.sample_candidates()
    on_policy: OnPolicy = shared.on_policy()


class JSD(StudentCandidates[JSDSettings]):
    """β·KA (student's candidates + rest) + (1-β)·Word-KD (teacher's top-k + rest)."""

    needs = frozenset({"topk", "score"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = a.need_topk()
        cands, logq = a.need_scores()
        form: KAForm = "renormalised" if self.settings.renormalise else "tail"
        return jsd_loss(logits, top.ids, top.logq, top.rest_logmass, cands, logq, t.target_mask,
                        beta=self.settings.beta, tail=self.settings.tail, form=form)


OBJECTIVE = ObjectiveInfo(JSDSettings, "β·KA + (1-β)·Word-KD, mixed with the NLL by α", distillation,
                          supports={"both": JSD})
