"""CMLM: the Mask-Predict student's loss -- fill in masked target tokens, and predict the target's length.

The decoder reads the whole target with a uniform number of its tokens masked and learns to fill them in
(`s2s.losses.cmlm_loss`, plus the length predictor's loss). Its teacher shows only in its training data
(sequence-level distillation), so it asks the teacher nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from s2s.batching import pad_ids
from s2s.losses import cmlm_loss
from student_trainer.objectives.registry import ObjectiveInfo
from student_trainer.objectives.settings import ObjectiveSettings
from student_trainer.objectives.step import StepContext, StepInputs


@dataclass(frozen=True)
class CMLMSettings(ObjectiveSettings):
    """Only the label smoothing of the masked-token loss."""

    kind: ClassVar[str] = "cmlm"


class CMLMStep:
    """Mask a uniform number of each target's tokens (without its `</s>`) and learn to fill them in, plus
    the target's length."""

    prefetch = None

    def __init__(self, settings: CMLMSettings, context: StepContext) -> None:
        self.settings, self.ctx = settings, context

    def __call__(self, s: StepInputs) -> dict[str, float]:
        from s2s.cmlm import random_mask  # the CMLM model module imports transformers

        pad, device = self.ctx.pad_id, s.device
        plain: Any = getattr(s.model, "module", s.model)  # inside DDP
        targets = [t[:-1] if len(t) > 1 and t[-1] == self.ctx.eos_id else t for t in s.batch.tgt]
        inputs, masked = random_mask(targets, plain.mask_id, self.ctx.generator)
        src, src_mask = (x.to(device) for x in pad_ids(s.batch.src, pad))
        dec_in, dec_mask = (x.to(device) for x in pad_ids(inputs, pad))
        labels, _ = pad_ids(targets, pad)
        mask_t, _ = pad_ids([[int(m) for m in row] for row in masked], 0)
        token_logits, length_logprobs = s.model(input_ids=src, attention_mask=src_mask, decoder_input_ids=dec_in,
                                                decoder_attention_mask=dec_mask)
        lengths = torch.tensor([len(t) for t in targets], device=device)
        total, token, length = cmlm_loss(token_logits, labels.to(device), mask_t.to(device).bool(),
                                         length_logprobs, lengths, pad, self.settings.label_smoothing)
        (s.scale * total).backward()
        return {"loss": total.item(), "nll": token.item(), "length": length.item()}


OBJECTIVE = ObjectiveInfo(CMLMSettings, "Mask-Predict student: fill in masked target tokens, plus the target's length",
                          CMLMStep, students=("cmlm",))
