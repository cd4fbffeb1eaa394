"""Word-KD on the sampled signal: `(1-α)·NLL + α·KL(q̂‖p)`, q̂ the counts of m draws from q over m.

Sparse logit sampling (Anshumann et al., ACL 2025): the teacher (or a teacher-output store) answers each
target position with m tokens drawn from q, kept as distinct ids and counts (`Sample`, about 3 bytes per
distinct id); the term's expected gradient is the full-vocabulary forward-KL gradient, where top-k with a
tail bucket is biased (`s2s.losses.sampled_kd_loss`). The draws are fixed by `seed` and the sentence, so
every epoch sees the same draws, as with a store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from s2s.losses import sampled_kd_loss
from s2s.teacher.contract import Signal
from student_trainer.batches import BatchTensors
from student_trainer.objectives import settings as shared
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import DistillSettings, MixedByAlpha, setting
from student_trainer.objectives.terms import Answers, DistillTerm


def _draws(value: int) -> str | None:
    return None if 1 <= value <= 255 else f"must be between 1 and 255 draws per position, got {value}"


@dataclass(frozen=True)
class WordKDSampledSettings(MixedByAlpha, DistillSettings):
    """α mixes the term with the NLL; m draws from q per position, fixed by `seed`."""

    kind: ClassVar[str] = "word_kd_sampled"

    alpha: float = shared.alpha()
    m: int = setting(12, "draws from the teacher's q per target position (the sampled signal)", _draws)
    seed: int = setting(0, "seed of the teacher's draws (with the sentence's ids it fixes them)",
                        lambda v: None if v >= 0 else f"must be >= 0, got {v}")


class WordKDSampled(DistillTerm[WordKDSampledSettings]):
    """KL(q̂‖p) on the teacher's m draws per position."""

    needs = frozenset({"sampled"})

    @property
    def signal(self) -> Signal:
        return Signal("sampled", self.settings.m, self.settings.seed)

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        drawn = a.need_sampled()
        return sampled_kd_loss(logits, drawn.ids, drawn.counts, t.target_mask)


OBJECTIVE = ObjectiveInfo(
    WordKDSampledSettings, "Word-KD on the sampled signal: (1-α)·NLL + α·KL(q̂‖p), q̂ = m draws from q (unbiased)",
    distillation, supports={"teacher": WordKDSampled})
