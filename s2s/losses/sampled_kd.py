"""Word-KD on the sampled signal: forward KL towards the empirical distribution of m draws from the teacher.

The teacher's `Sample` answer gives, per target position, the distinct ids of m draws from q and their
counts c (`s2s.teacher.sampling`). With q̂ = c / m, ``E[q̂] = q``, so the loss ``Σ_y q̂(y) log(q̂(y)/p(y))``
has the gradient ``p - q̂`` with respect to the student's logits, whose expectation is ``p - q``: exactly the
gradient of the full-vocabulary ``KL(q‖p)`` (Anshumann et al., ACL 2025). Unlike top-k with a tail bucket
it is unbiased, and its expected gradient vanishes only at p = q. Its value is a divergence (>= 0, zero when
p = q̂), whose mean is ``KL(q‖p)`` plus ``H(q) - E[H(q̂)] >= 0``, the empirical distribution's entropy
deficit (a constant for a fixed teacher and m; the gradient is unaffected).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2s.losses.checks import LossInputError, check_floating, check_logits, check_mask, check_same_shape
from s2s.losses.precision import upcast
from s2s.losses.reduction import reduce_tokens


def sampled_kd_loss(
    student_logits: torch.Tensor,
    sample_ids: torch.Tensor,
    sample_counts: torch.Tensor,
    mask: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """``KL(q̂‖p)`` per position, q̂ the empirical distribution of the teacher's draws.

    Args:
        student_logits: [B, T, V] logits of p.
        sample_ids: [B, T, c] long: the distinct drawn ids of each position, padded with any id where the
            count is 0.
        sample_counts: [B, T, c] float or integer counts (>= 0; padding 0). q̂ = counts / their sum at each
            position, so the number of draws m need not be passed.
        mask: [B, T] bool, True at real target positions (each needs at least one draw).
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"``.

    The teacher's draws are constants: gradients flow only into ``student_logits``.
    """
    batch, length, vocab = check_logits(student_logits)
    check_mask(mask, batch, length)
    if sample_ids.dim() != 3 or tuple(sample_ids.shape[:2]) != (batch, length) or sample_ids.shape[2] < 1:
        raise LossInputError(f"sample_ids must have shape [B, T, c >= 1] with [B, T] = {(batch, length)}, "
                             f"got {tuple(sample_ids.shape)}")
    if sample_ids.dtype != torch.long:
        raise LossInputError(f"sample_ids must be a long (int64) tensor, got dtype {sample_ids.dtype}")
    check_same_shape(sample_counts, "sample_counts", sample_ids, "sample_ids")
    counts = sample_counts if sample_counts.is_floating_point() else sample_counts.double()
    check_floating(counts, "sample_counts")
    real = mask.unsqueeze(-1)
    ids = sample_ids.masked_fill(~real, 0)
    if ids.numel() and (bool((ids < 0).any()) or bool((ids >= vocab).any())):
        raise LossInputError(f"sample_ids contains ids outside the vocabulary [0, {vocab}); are teacher and "
                             "student using the same vocabulary?")
    logp = F.log_softmax(upcast(student_logits), dim=-1)
    counts = upcast(counts).to(logp.dtype).masked_fill(~real, 0.0)
    if bool((counts < 0).any()):
        raise LossInputError("sample_counts must be >= 0")
    total = counts.sum(-1, keepdim=True)
    if bool((total[mask] <= 0).any()):
        raise LossInputError("every real position needs at least one draw (its counts sum to 0)")
    weight = counts / total.clamp(min=1e-30)
    log_weight = torch.where(weight > 0, weight.log(), torch.zeros_like(weight))
    per_token = torch.where(weight > 0, weight * (log_weight - logp.gather(-1, ids)), torch.zeros_like(weight))
    return reduce_tokens(per_token.sum(-1), mask, reduction)
