"""The optimiser step, guarded: a step whose loss or gradient norm is not finite is skipped, never taken.

One NaN (a bad teacher answer, an overflow, a diverging learning rate) in a gradient that reached Adam
would turn every weight NaN in one step, and the next checkpoint would save them. So each step's gradient
norm is computed (and clipped when `clip_norm` > 0) before the optimiser runs; when it or the step's loss
is not finite, the gradients are dropped, the optimiser and the schedule are left as they were, and the
skip is counted and logged. Data-parallel workers decide together (one tiny all-reduce), so that all of
them skip the same steps and their weights stay identical. After `max_in_a_row` skips in a row the run
stops with `NonFiniteStepError`: something is persistently wrong, and training on would only waste time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from s2s.errors import KDError
from student_trainer.metrics import MetricsLog
from student_trainer.reporting import agree_any

MAX_NONFINITE_IN_A_ROW = 5


class NonFiniteStepError(KDError):
    """Several optimiser steps in a row had a non-finite loss or gradient norm; the run stops."""


def gradient_norm(parameters: Iterable[nn.Parameter], clip_norm: float) -> float:
    """The total L2 norm of the gradients, clipping them to `clip_norm` when it is positive."""
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0.0
    return float(torch.nn.utils.clip_grad_norm_(params, clip_norm if clip_norm > 0 else math.inf))


class StepGuard:
    """Takes or skips each optimiser step (see the module docstring); `skipped` counts the skips."""

    def __init__(self, clip_norm: float, log: MetricsLog | None = None,
                 max_in_a_row: int = MAX_NONFINITE_IN_A_ROW) -> None:
        self.clip_norm, self.log, self.max_in_a_row = clip_norm, log, max_in_a_row
        self.skipped = 0
        self.in_a_row = 0

    def step(self, model: nn.Module, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler, loss: float, step: int,
             device: torch.device | None = None) -> bool:
        """Clip, then step optimiser and schedule unless the loss or the norm is not finite (on any worker);
        clears the gradients either way. Returns whether the step was taken; `step` (the number of steps
        taken so far) only labels the log and the error."""
        norm = gradient_norm(model.parameters(), self.clip_norm)
        bad = agree_any(not (math.isfinite(loss) and math.isfinite(norm)), device or torch.device("cpu"))
        if not bad:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            self.in_a_row = 0
            return True
        optimizer.zero_grad(set_to_none=True)
        self.skipped += 1
        self.in_a_row += 1
        if self.log is not None:
            self.log.event("nonfinite_step", after_step=step, loss=loss, grad_norm=norm, in_a_row=self.in_a_row,
                           skipped=self.skipped)
        if self.in_a_row >= self.max_in_a_row:
            raise NonFiniteStepError(
                f"training stopped after step {step}: {self.in_a_row} steps in a row had a non-finite loss or "
                f"gradient norm (last: loss {loss}, gradient norm {norm}) and were skipped; the weights are still "
                "those of the last finite step. Check the teacher's answers and the data, or lower optim.lr")
        return False
