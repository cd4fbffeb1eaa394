"""NLL: label-smoothed cross-entropy on the references, no teacher (baselines, teachers, Seq-KD data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from s2s.losses import nll_loss
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import ObjectiveSettings
from student_trainer.objectives.step import StepContext, StepInputs


@dataclass(frozen=True)
class NLLSettings(ObjectiveSettings):
    """Only the label smoothing of the NLL."""

    kind: ClassVar[str] = "nll"


class NLLStep:
    """Forward on the references, label-smoothed NLL, backward."""

    prefetch = None

    def __init__(self, settings: NLLSettings, context: StepContext) -> None:
        self.settings, self.ctx = settings, context

    def __call__(self, s: StepInputs) -> dict[str, float]:
        t = self.ctx.tensors(s.batch, s.device)
        nll = nll_loss(self.ctx.forward(s.model, t), t.labels, self.ctx.pad_id, self.settings.label_smoothing)
        (s.scale * nll).backward()
        return {"loss": nll.item(), "nll": nll.item()}


OBJECTIVE = ObjectiveInfo(NLLSettings, "label-smoothed NLL on the references (no teacher)", NLLStep)
