"""Input validation shared by the loss functions.

Every loss validates its arguments up front so that a wrong shape, dtype or option fails with a message
that names the argument and says what was expected, instead of a cryptic broadcasting or CUDA
device-side assertion deep inside ``gather``.
"""

from __future__ import annotations

from typing import Literal

import torch

from s2s.errors import KDError

Reduction = Literal["sum", "mean", "none"]
REDUCTIONS: tuple[str, ...] = ("sum", "mean", "none")


class LossInputError(KDError, ValueError):
    """A loss function received arguments of the wrong shape, dtype or range."""


def check_reduction(reduction: str) -> None:
    """Reject reduction names other than ``"sum"``, ``"mean"`` and ``"none"``."""
    if reduction not in REDUCTIONS:
        raise LossInputError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_logits(student_logits: torch.Tensor, name: str = "student_logits") -> tuple[int, int, int]:
    """Check that logits are a floating [B, T, V] tensor with V >= 1 and return (B, T, V)."""
    if student_logits.dim() != 3:
        raise LossInputError(f"{name} must have shape [B, T, V], got {tuple(student_logits.shape)}")
    if not student_logits.is_floating_point():
        raise LossInputError(f"{name} must be a floating tensor, got dtype {student_logits.dtype}")
    batch, length, vocab = student_logits.shape
    if vocab < 1:
        raise LossInputError(f"{name} has an empty vocabulary dimension")
    return batch, length, vocab


def check_mask(mask: torch.Tensor, batch: int, length: int) -> None:
    """Check that ``mask`` is a bool [B, T] tensor (True = real target position)."""
    if mask.dtype != torch.bool:
        raise LossInputError(f"mask must be a bool tensor (True = real position), got dtype {mask.dtype}")
    if tuple(mask.shape) != (batch, length):
        raise LossInputError(f"mask must have shape [B, T] = {(batch, length)}, got {tuple(mask.shape)}")


def check_token_ids(ids: torch.Tensor, name: str, batch: int, length: int, vocab: int) -> int:
    """Check a [B, T, k] integer tensor of vocabulary ids with 1 <= k <= V and ids in [0, V); return k."""
    if ids.dim() != 3 or tuple(ids.shape[:2]) != (batch, length):
        raise LossInputError(f"{name} must have shape [B, T, k] with [B, T] = {(batch, length)}, "
                             f"got {tuple(ids.shape)}")
    if ids.dtype != torch.long:
        raise LossInputError(f"{name} must be a long (int64) tensor, got dtype {ids.dtype}")
    k = ids.shape[2]
    if not 1 <= k <= vocab:
        raise LossInputError(f"{name} must hold between 1 and V={vocab} ids per position, got k={k}")
    check_id_range(ids, name, vocab)
    return k


def check_id_range(ids: torch.Tensor, name: str, vocab: int) -> None:
    """Check that every id lies in [0, V) (out-of-range ids would crash or silently wrap in gather)."""
    if ids.numel() and (bool((ids < 0).any()) or bool((ids >= vocab).any())):
        raise LossInputError(f"{name} contains ids outside the vocabulary [0, {vocab}): "
                             f"min={int(ids.min())}, max={int(ids.max())}; are teacher and student "
                             "using the same vocabulary?")


def check_same_shape(tensor: torch.Tensor, name: str, reference: torch.Tensor, ref_name: str) -> None:
    """Check that ``tensor`` has the same shape as ``reference``."""
    if tensor.shape != reference.shape:
        raise LossInputError(f"{name} must have the same shape as {ref_name} {tuple(reference.shape)}, "
                             f"got {tuple(tensor.shape)}")


def check_floating(tensor: torch.Tensor, name: str) -> None:
    """Check that ``tensor`` holds floating-point values (log-probabilities, masses)."""
    if not tensor.is_floating_point():
        raise LossInputError(f"{name} must be a floating tensor, got dtype {tensor.dtype}")


def check_unit_interval(value: float, name: str) -> None:
    """Check that a mixing weight or smoothing factor lies in [0, 1]."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise LossInputError(f"{name} must be a number in [0, 1], got {value!r}")
