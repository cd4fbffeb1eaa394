"""TIE-KD's hierarchical ranking loss: match the teacher's ranking rather than its probabilities.

Two hinge terms per target position, in logit space (logit differences equal log-probability
differences, so the margins are in nats):

(a) top-1: the teacher's top-1 id must beat every other id by ``margin``:
    ``max(0, margin - (z_top1 - max_{v≠top1} z_v))`` (the multi-class hinge against the hardest rival);
(b) top-k set: every teacher top-k id must beat every non-top-k id by ``margin``:
    ``max(0, margin - (min_{y∈topk} z_y - max_{v∉topk} z_v))``.

Both are exactly zero once the student's ranking satisfies the margins, so a student that already ranks
like the teacher receives no gradient from this loss.
"""

from __future__ import annotations

import torch

from s2s.losses.checks import LossInputError, check_logits, check_mask, check_token_ids
from s2s.losses.precision import upcast
from s2s.losses.reduction import reduce_tokens
from s2s.losses.subsets import membership_mask


def tie_kd_loss(
    student_logits: torch.Tensor,
    topk_ids: torch.Tensor,
    mask: torch.Tensor,
    margin: float = 1.0,
    reduction: str = "mean",
    top1_weight: float = 1.0,
    set_weight: float = 1.0,
) -> torch.Tensor:
    """Hierarchical ranking loss ``top1_weight·(a) + set_weight·(b)`` (see the module docstring).

    Args:
        student_logits: [B, T, V] logits of p (computed in float32 or wider, see ``precision``), V >= 2.
        topk_ids: [B, T, k] long teacher top-k ids, sorted by descending q (``topk_ids[..., 0]`` is the
            teacher's top-1, as ``TopK`` returns them), 1 <= k <= V.
        mask: [B, T] bool, True at real target positions.
        margin: required logit gap (>= 0).
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).
        top1_weight, set_weight: non-negative weights of terms (a) and (b).

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, vocab = check_logits(student_logits)
    if vocab < 2:
        raise LossInputError(f"tie_kd_loss needs a vocabulary of at least 2 ids to rank, got V={vocab}")
    check_mask(mask, batch, length)
    check_token_ids(topk_ids, "topk_ids", batch, length, vocab)
    for name, value in (("margin", margin), ("top1_weight", top1_weight), ("set_weight", set_weight)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise LossInputError(f"{name} must be a non-negative number, got {value!r}")
    logits = upcast(student_logits)
    return reduce_tokens(top1_weight * _top1_hinge(logits, topk_ids[..., :1], margin)
                         + set_weight * _set_hinge(logits, topk_ids, margin), mask, reduction)


def _top1_hinge(logits: torch.Tensor, top1: torch.Tensor, margin: float) -> torch.Tensor:
    """[B, T] hinge of the top-1 logit (``top1`` [B, T, 1]) against the strongest other logit."""
    rival = logits.masked_fill(membership_mask(top1, logits.shape[-1]), float("-inf")).amax(dim=-1)
    return torch.relu(margin - (logits.gather(-1, top1).squeeze(-1) - rival))


def _set_hinge(logits: torch.Tensor, topk_ids: torch.Tensor, margin: float) -> torch.Tensor:
    """[B, T] hinge of the weakest top-k logit against the strongest non-top-k logit (0 if k = V)."""
    inside = membership_mask(topk_ids, logits.shape[-1])
    has_rest = ~inside.all(dim=-1)
    outside = logits.masked_fill(inside, float("-inf")).masked_fill(~has_rest.unsqueeze(-1), 0.0)
    weakest = logits.gather(-1, topk_ids).amin(dim=-1)
    hinge = torch.relu(margin - (weakest - outside.amax(dim=-1)))
    return torch.where(has_rest, hinge, torch.zeros_like(hinge))
