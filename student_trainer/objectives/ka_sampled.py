"""Sampled KA: the single-sample on-policy estimator of the reverse KL.

The NLL on the reference, then a translation sampled from p itself (temperature 1, nothing banned or
forced, dropout off in both the sampling and the loss pass); the teacher scores each sampled token
(`Score` with one candidate per position), and `-Σ_t sg(log q(y_t) - log p(y_t)) · log p(y_t)` has the
expected gradient of `Σ_t KL(p_t‖q_t)` at the visited prefixes. It always samples: it has no `on_policy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from s2s.losses import ka_sampled_loss
from student_trainer.batches import BatchTensors
from student_trainer.objectives import settings as shared
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import DistillSettings, MixedByLambda
from student_trainer.objectives.terms import Answers, DistillTerm


@dataclass(frozen=True)
class KASampledSettings(MixedByLambda, DistillSettings):
    """λ mixes the estimator with the NLL."""

    kind: ClassVar[str] = "ka_sampled"

    lam: float = shared.lam()


class KASampled(DistillTerm[KASampledSettings]):
    """Targets sampled from p; the teacher scores each sampled token."""

    needs = frozenset({"score"})

    def __init__(self, settings: KASampledSettings) -> None:
        super().__init__(settings)
        self.rollout = "exact_sample"

    def candidates(self, logits: torch.Tensor, t: BatchTensors, generator: torch.Generator | None) -> torch.Tensor:
        return t.labels.unsqueeze(-1)

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        _, logq = a.need_scores()
        return ka_sampled_loss(logits, t.labels, logq.squeeze(-1), t.target_mask)


OBJECTIVE = ObjectiveInfo(
    KASampledSettings, "NLL on the reference + the single-sample reverse-KL estimator on the student's own "
                       "sampled translation", distillation, supports={"sampled": KASampled})
