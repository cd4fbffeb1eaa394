"""Adam with the Transformer's inverse-square-root learning-rate schedule and linear warm-up (each step is
taken through `student_trainer.step_guard`, which skips non-finite ones)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from student_trainer.recipe import OptimSpec


def inverse_sqrt(warmup_steps: int) -> Callable[[int], float]:
    """LR factor at a 0-based step: linear warm-up to 1 over `warmup_steps`, then `sqrt(warmup / step)`."""
    def factor(step: int) -> float:
        s = step + 1
        if warmup_steps <= 0:
            return 1.0 / math.sqrt(s)
        return min(s / warmup_steps, math.sqrt(warmup_steps / s))
    return factor


def lr_factor(spec: OptimSpec) -> Callable[[int], float]:
    """LR factor at this run's 0-based step: the inverse-square-root schedule continued from
    `spec.schedule_offset`, ramped up linearly over the first `spec.rewarmup_steps`."""
    schedule = inverse_sqrt(spec.warmup_steps)

    def factor(step: int) -> float:
        ramp = min((step + 1) / spec.rewarmup_steps, 1.0) if spec.rewarmup_steps > 0 else 1.0
        return ramp * schedule(spec.schedule_offset + step)
    return factor


def build_optimizer(model: nn.Module, spec: OptimSpec) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """Adam over the trainable parameters and its LR schedule (stepped once per optimiser step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=spec.lr, betas=spec.betas, eps=spec.eps, weight_decay=spec.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(spec))
