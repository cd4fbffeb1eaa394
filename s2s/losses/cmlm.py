"""The CMLM (Mask-Predict) training loss: label-smoothed NLL on the masked positions plus the length loss."""

from __future__ import annotations

import torch

from s2s.losses.checks import LossInputError, check_logits, check_mask, check_unit_interval
from s2s.losses.nll import nll_loss


def cmlm_loss(
    token_logits: torch.Tensor,
    targets: torch.Tensor,
    masked: torch.Tensor,
    length_logprobs: torch.Tensor,
    lengths: torch.Tensor,
    pad_id: int,
    label_smoothing: float = 0.1,
    length_weight: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(total, token, length)``: ``token`` is the label-smoothed NLL averaged over the masked positions
    only (what the decoder had to predict), ``length`` the NLL of each target's true length averaged over
    sentences, ``total = token + length_weight · length`` (fairseq's CMLM weighting, 0.1).

    Args:
        token_logits: [B, T, V] decoder logits for a partly masked target.
        targets: [B, T] long target ids (``pad_id`` at padding).
        masked: [B, T] bool, True where the decoder input was the mask token (never at padding).
        length_logprobs: [B, C] log-probabilities of the target lengths.
        lengths: [B] long true target lengths, 1 <= length < C.
        pad_id: the padding id.
        label_smoothing: ε of the token NLL, in [0, 1].
        length_weight: weight of the length loss (>= 0).
    """
    batch, length, _ = check_logits(token_logits, "token_logits")
    check_mask(masked, batch, length)
    check_unit_interval(label_smoothing, "label_smoothing")
    if length_weight < 0:
        raise LossInputError(f"length_weight must be >= 0, got {length_weight}")
    if tuple(lengths.shape) != (batch,) or lengths.dtype != torch.long:
        raise LossInputError(f"lengths must be a long tensor of shape [B] = ({batch},), got {tuple(lengths.shape)}")
    if length_logprobs.dim() != 2 or length_logprobs.shape[0] != batch:
        raise LossInputError(f"length_logprobs must have shape [B, C] with B = {batch}, "
                             f"got {tuple(length_logprobs.shape)}")
    if bool((lengths < 1).any()) or bool((lengths >= length_logprobs.shape[1]).any()):
        raise LossInputError(f"lengths must lie in [1, {length_logprobs.shape[1]}), got {lengths.tolist()}")
    if bool((masked & (targets == pad_id)).any()):
        raise LossInputError("masked positions must be real target positions, not padding")
    token = nll_loss(token_logits, targets.masked_fill(~masked, pad_id), pad_id, label_smoothing)
    length_nll = -length_logprobs.float().gather(1, lengths.unsqueeze(1)).mean()
    return token + length_weight * length_nll, token, length_nll
