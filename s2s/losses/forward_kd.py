"""Word-level knowledge distillation (Kim & Rush 2016): forward KL towards the teacher.

The teacher's ``TopK`` RPC returns, per target position, its k most likely ids, their log q and the log of
the remaining mass ``log(1 - Σ_{topk} q)``. The remaining mass is kept as an explicit tail bucket rather
than dropped, so the loss is a proper KL between two distributions over the k + 1 outcomes
``topk ∪ {rest}``. Its gradient equals that of Kim & Rush's cross-entropy ``-Σ q log p`` (the two differ
by the teacher's entropy, a constant), but its value is a divergence: >= 0, zero exactly when the student
agrees with the teacher on those outcomes, and comparable with the reverse-KL (KA) terms it is mixed with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2s.losses.checks import (
    LossInputError,
    check_floating,
    check_logits,
    check_mask,
    check_same_shape,
    check_token_ids,
)
from s2s.losses.precision import upcast
from s2s.losses.reduction import reduce_tokens
from s2s.losses.subsets import log_mass_outside


def word_kd_loss(
    student_logits: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logq: torch.Tensor,
    rest_logmass: torch.Tensor,
    mask: torch.Tensor,
    tail: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """Forward KL from the teacher's top-k: ``Σ_{y∈topk} q(y) log(q(y)/p(y))`` (+ tail), per position.

    With ``tail=True`` the teacher's remaining mass ``r = exp(rest_logmass)`` is matched against the
    student's mass outside the top-k ids: the per-token loss is
    ``Σ_{y∈topk} q(y) log(q(y)/p(y)) + r·log(r / (1 - Σ_{y∈topk} p(y)))``, where the last log is a
    logsumexp over the complement (stable even when the student puts almost all its mass on the top-k).
    When the top-k covers the whole vocabulary there is no complement and the tail term is dropped. With
    k = V this is the full ``KL(q‖p)``.

    With ``tail=False`` q is renormalised over the top-k (``q̃ = softmax(topk_logq)``) and the loss is
    ``KL(q̃‖p)`` (q̃ has no mass outside the top-k).

    The teacher tensors are constants: gradients flow only into ``student_logits``. Ids must be distinct
    per position (as ``TopK`` returns them); values at masked positions are ignored (they may be garbage).

    Args:
        student_logits: [B, T, V] logits of p (computed in float32 or wider, see ``precision``).
        topk_ids: [B, T, k] long teacher top-k ids, 1 <= k <= V.
        topk_logq: [B, T, k] float log q of those ids.
        rest_logmass: [B, T] float ``log(1 - Σ_{topk} q)`` (``-inf`` when there is no remaining mass).
        mask: [B, T] bool, True at real target positions.
        tail: keep the remaining mass as a tail bucket (True) or renormalise q over the top-k (False).
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, vocab = check_logits(student_logits)
    check_mask(mask, batch, length)
    check_token_ids(topk_ids, "topk_ids", batch, length, vocab)
    check_floating(topk_logq, "topk_logq")
    check_same_shape(topk_logq, "topk_logq", topk_ids, "topk_ids")
    check_floating(rest_logmass, "rest_logmass")
    if tuple(rest_logmass.shape) != (batch, length):
        raise LossInputError(f"rest_logmass must have shape [B, T] = {(batch, length)}, "
                             f"got {tuple(rest_logmass.shape)}")
    real = mask.unsqueeze(-1)
    logq = upcast(topk_logq).masked_fill(~real, 0.0)
    logq = F.log_softmax(logq, dim=-1) if not tail else logq
    logp = F.log_softmax(upcast(student_logits), dim=-1)
    per_token = _plogp_ratio(logq, logp.gather(-1, topk_ids)).sum(dim=-1)
    if tail:
        log_rest_q = upcast(rest_logmass).masked_fill(~mask, float("-inf"))
        log_rest_p, has_rest = log_mass_outside(logp, topk_ids)
        tail_term = _plogp_ratio(log_rest_q, log_rest_p)
        per_token = per_token + torch.where(has_rest, tail_term, torch.zeros_like(tail_term))
    return reduce_tokens(per_token, mask, reduction)


def _plogp_ratio(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """``a·(log a - log b)`` with the convention ``0·log 0 = 0`` (a teacher probability may be exactly 0)."""
    a = log_a.exp()
    safe_log_a = torch.where(a > 0, log_a, torch.zeros_like(log_a))
    return torch.where(a > 0, a * (safe_log_a - log_b), torch.zeros_like(a))
