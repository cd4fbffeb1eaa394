"""Weighted combinations of losses: the KA/KD mixture ("JSD") and interpolation with the NLL."""

from __future__ import annotations

import torch

from s2s.losses.checks import LossInputError, check_unit_interval
from s2s.losses.forward_kd import word_kd_loss
from s2s.losses.reverse_kd import KAForm, ka_loss


def jsd_loss(
    student_logits: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logq: torch.Tensor,
    rest_logmass: torch.Tensor,
    cand_ids: torch.Tensor,
    cand_logq: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 0.5,
    tail: bool = True,
    form: KAForm = "tail",
    reduction: str = "mean",
) -> torch.Tensor:
    """The design's "JSD" loss: ``β·KA + (1-β)·KD``, i.e. ``½·KA + ½·KD`` at the default β = 0.5.

    It mixes the two KL directions, reverse (``ka_loss``, precision, on the student's candidates plus the
    rest mass) and forward (``word_kd_loss``, recall, on the teacher's top-k plus the rest mass). Both
    terms are divergences on their stated supports, so the mixture is >= 0 and zero exactly when the
    student agrees with the teacher on both supports. Note that this symmetric mixture of KLs is what the
    design calls JSD; it is *not* the Jensen-Shannon divergence through the midpoint distribution
    ½(p+q), which cannot be computed from top-k/candidate scores alone.

    Args:
        student_logits: [B, T, V] logits of p.
        topk_ids, topk_logq, rest_logmass, tail: the teacher's ``TopK`` answer, as in ``word_kd_loss``.
        cand_ids, cand_logq, form: the candidates, their ``Score`` answer and the KA form, as in ``ka_loss``.
        mask: [B, T] bool, True at real target positions.
        beta: weight of KA in [0, 1]; β = 1 is pure KA and β = 0 pure KD.
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    check_unit_interval(beta, "beta")
    ka = ka_loss(student_logits, cand_ids, cand_logq, mask, reduction=reduction, form=form)
    kd = word_kd_loss(student_logits, topk_ids, topk_logq, rest_logmass, mask, tail=tail,
                      reduction=reduction)
    return beta * ka + (1.0 - beta) * kd


def mix_with_nll(nll: torch.Tensor, other: torch.Tensor, weight: float) -> torch.Tensor:
    """Interpolate a distillation loss with the NLL: ``(1 - weight)·nll + weight·other``.

    This is the design's ``(1-α)·NLL + α·KD`` and ``(1-λ)·NLL + λ·KA``. Both losses must have been
    reduced the same way (same shape), so that neither is silently broadcast.

    Args:
        nll: the NLL loss (scalar, or [B, T] for ``reduction="none"``).
        other: the other loss, same shape as ``nll``.
        weight: α or λ in [0, 1].

    Returns:
        A tensor with the shape of ``nll``.
    """
    check_unit_interval(weight, "weight")
    if nll.shape != other.shape:
        raise LossInputError(f"nll and other must have the same shape (use the same reduction), "
                             f"got {tuple(nll.shape)} and {tuple(other.shape)}")
    return (1.0 - weight) * nll + weight * other
