"""The objective a worker trains with: its registered step, built once, called once per batch.

`Objective` is the short driver between the training loop and the registry: it looks the recipe's
objective up by its settings' `kind`, builds that objective's step with what the run shares
(`StepContext`), tells the loop whether the teacher's answer (TopK, or the sampled signal) can be requested
ahead (the prefetcher), and runs the step. What the step computes lives in the objective's own module.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import torch
from torch import nn

from student_trainer.batches import Batch
from student_trainer.objectives.registry import lookup
from student_trainer.objectives.settings import ObjectiveSettings
from student_trainer.objectives.step import NoSync, ObjectiveStep, StepContext, StepInputs
from student_trainer.teacher_link import TeacherAPI, WaitClock


class Objective:
    """The recipe's objective on one worker: which teacher answers it can prefetch, and its step."""

    def __init__(self, settings: ObjectiveSettings, pad_id: int, teacher: TeacherAPI | None, clock: WaitClock,
                 teacher_model: nn.Module | None = None, seed: int = 0, amp: bool = False, eos_id: int = 0) -> None:
        self.settings = settings
        self.info = lookup(settings.kind)
        self.context = StepContext(pad_id, eos_id, teacher, clock, torch.Generator().manual_seed(seed),
                                   teacher_model, amp)
        self.impl: ObjectiveStep = self.info.step(settings, self.context)

    @property
    def prefetchable(self) -> bool:
        """Whether the teacher answer for a batch can be requested before the step (on fixed targets)."""
        return self.impl.prefetch is not None

    def request(self, batch: Batch) -> Future[Any]:
        """Send the prefetchable request for `batch` (used by the prefetcher)."""
        signal = self.impl.prefetch
        assert signal is not None, "request() is only for prefetchable objectives"
        return self.context.request(batch, signal)

    def step(self, model: nn.Module, batch: Batch, prefetched: Future[Any] | None, device: torch.device,
             no_sync: NoSync | None = None, scale: float = 1.0) -> dict[str, float]:
        """Forward, loss and backward for one batch; returns the loss parts (per target token of this batch).

        `no_sync` is the DDP model's `no_sync` when there are several workers; `scale` weighs this worker's
        per-token mean (the worker sets it, see `student_trainer.worker.data_parallel_scale`)."""
        return self.impl(StepInputs(model, batch, device, prefetched, no_sync, scale))
