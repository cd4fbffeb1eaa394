"""What an objective's training step receives, and the interface every step implements.

A run builds one step object per worker from its objective's declaration (`ObjectiveInfo.step`), with the
`StepContext` every step of the run shares (ids, the teacher, the random generator, precision). The loop
then calls it once per batch with `StepInputs`: the model, the batch, the batch's prefetched teacher answer
(the `Signal` the step names as its `prefetch`: TopK, or the sampled signal), DDP's `no_sync` and the
weight of this worker's mean (`scale`, set by the worker so that data-parallel workers' gradients average
to the mean over all their tokens). A step computes its loss, back-propagates
`scale` times it, and returns its parts per target token of the batch (`loss`, `nll`, ...) for the logs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from s2s.teacher.contract import Signal
from student_trainer.batches import Batch, BatchTensors, forward_logits, to_tensors
from student_trainer.teacher_link import TeacherAPI, WaitClock

NoSync = Callable[[], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class StepInputs:
    """One step's batch and how to back-propagate it.

    `no_sync` is the DDP model's `no_sync` when there are several workers (None with one): DDP reduces
    gradients once per forward, so a step that back-propagates twice must run the first under it."""

    model: nn.Module
    batch: Batch
    device: torch.device
    prefetched: Future[Any] | None = None
    no_sync: NoSync | None = None
    scale: float = 1.0


@dataclass
class StepContext:
    """What every step of one worker's run shares."""

    pad_id: int
    eos_id: int
    teacher: TeacherAPI | None
    clock: WaitClock
    generator: torch.Generator
    teacher_model: nn.Module | None = None
    amp: bool = False

    def tensors(self, batch: Batch, device: torch.device) -> BatchTensors:
        return to_tensors(batch, self.pad_id, device)

    def forward(self, model: nn.Module, t: BatchTensors) -> torch.Tensor:
        """Student logits, in bf16 autocast on CUDA (losses cast to float32 themselves)."""
        if not self.amp:
            return forward_logits(model, t)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return forward_logits(model, t)

    def request(self, batch: Batch, signal: Signal) -> Future[Any]:
        """Send the teacher's request for `signal` (TopK, or the sampled signal) on the batch's targets."""
        if self.teacher is None:
            raise RuntimeError(f"this objective asks the teacher for {signal.describe()}, but the run has no teacher")
        if signal.kind == "topk":
            return self.teacher.topk_async(batch.src, batch.tgt, signal.size)
        return self.teacher.sample_async(batch.src, batch.tgt, signal.size, signal.seed)


class ObjectiveStep(Protocol):
    """One objective's step (see the module docstring)."""

    @property
    def prefetch(self) -> Signal | None:
        """The teacher answer the loop may request before the step (on fixed targets), or None."""

    def __call__(self, inputs: StepInputs, /) -> dict[str, float]:
        """Forward, loss and backward for one batch; returns the loss parts per target token."""
