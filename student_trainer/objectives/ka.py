"""Knowledge Acquisition: `(1-λ)·NLL + λ·KL(p‖q)`, the reverse KL the teacher scores as a critic.

On the student's support (the default) the teacher scores the student's own top-k' (or k' sampled)
candidates with `Score`, inside the step; on the teacher's support the reverse KL is computed on the
teacher's top-k (`TopK`, prefetched); `full` is the exact full-vocabulary reverse KL from an in-process
teacher's logits. With `on_policy: sample` (on-policy KA) the term runs on the student's own translations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from s2s.losses import KAForm, ka_exact_loss, ka_loss
from student_trainer.batches import BatchTensors
from student_trainer.objectives import settings as shared
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import DistillSettings, MixedByLambda, OnPolicy, OnPolicyTargets
from student_trainer.objectives.terms import Answers, DistillTerm, StudentCandidates


@dataclass(frozen=True)
class KASettings(MixedByLambda, OnPolicyTargets, DistillSettings):
    """λ mixes KA with the NLL; k' candidates of the student (or the teacher's top-k) carry the term."""

    kind: ClassVar[str] = "ka"

    lam: float = shared.lam()
    k: int = shared.top_k()
    k_prime: int = shared.k_prime()
    renormalise: bool = shared.renormalise()
    sample_candidates: bool = shared.sample_candidates()
    on_policy: OnPolicy = shared.on_policy()

    @property
    def form(self) -> KAForm:
        """KL over the candidates plus the rest mass, or between p and q renormalised on them."""
        return "renormalised" if self.renormalise else "tail"


class KA(StudentCandidates[KASettings]):
    """Reverse KL on the student's candidates plus the rest mass."""

    def __init__(self, settings: KASettings) -> None:
        super().__init__(settings)
        self.form = settings.form

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        cands, logq = a.need_scores()
        return ka_loss(logits, cands, logq, t.target_mask, form=self.form)


class KAOnTeacherSupport(DistillTerm[KASettings]):
    """Reverse KL on the teacher's top-k plus the rest mass (the teacher chooses the support)."""

    needs = frozenset({"topk"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = a.need_topk()
        return ka_loss(logits, top.ids, top.logq, t.target_mask, form=self.settings.form)


class KAExact(DistillTerm[KASettings]):
    """The exact full-vocabulary reverse KL (an in-process teacher's full logits)."""

    needs = frozenset({"full_logits"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        return ka_exact_loss(logits, a.need_teacher_logits(), t.target_mask)


OBJECTIVE = ObjectiveInfo(
    KASettings, "KA: (1-λ)·NLL + λ·KL(p‖q) over the student's own top-k' plus the rest mass, scored by the "
                "teacher", distillation,
    supports={"student": KA, "teacher": KAOnTeacherSupport, "full": KAExact})
