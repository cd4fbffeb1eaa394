"""Label-smoothed negative log-likelihood on the reference translation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2s.losses.checks import LossInputError, check_id_range, check_logits, check_unit_interval
from s2s.losses.precision import upcast
from s2s.losses.reduction import reduce_tokens


def nll_loss(
    student_logits: torch.Tensor,
    target: torch.Tensor,
    pad_id: int,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Label-smoothed cross-entropy of the student on the reference targets.

    Per real position t: ``(1 - ε)·(-log p(y_t)) + ε·(-(1/V)·Σ_v log p(v))``, the same definition as
    ``F.cross_entropy(logits, target, ignore_index=pad_id, label_smoothing=ε)``, which it equals for
    ``reduction`` ``"mean"``/``"sum"``/``"none"``.

    Args:
        student_logits: [B, T, V] logits of p (any float dtype; computed in float32 or wider).
        target: [B, T] long reference ids, ``pad_id`` at padding (padding contributes nothing).
        pad_id: the padding id.
        label_smoothing: ε in [0, 1].
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, vocab = check_logits(student_logits)
    if target.dtype != torch.long or tuple(target.shape) != (batch, length):
        raise LossInputError(f"target must be a long tensor of shape [B, T] = {(batch, length)}, "
                             f"got dtype {target.dtype} and shape {tuple(target.shape)}")
    check_unit_interval(label_smoothing, "label_smoothing")
    mask = target != pad_id
    check_id_range(target[mask], "target", vocab)
    logp = F.log_softmax(upcast(student_logits), dim=-1)
    safe_target = target.masked_fill(~mask, 0).unsqueeze(-1)
    nll = -logp.gather(-1, safe_target).squeeze(-1)
    per_token = (1.0 - label_smoothing) * nll
    if label_smoothing > 0.0:
        per_token = per_token - label_smoothing * logp.mean(dim=-1)
    return reduce_tokens(per_token, mask, reduction)
