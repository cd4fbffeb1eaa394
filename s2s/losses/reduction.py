"""Reduction of per-token losses over the non-masked target positions.

All losses in this package compute a per-token loss of shape [B, T] and reduce it here, so they share
one definition of the normaliser:

* ``"none"``: the [B, T] per-token losses, with exact zeros at masked (padding) positions;
* ``"sum"``: the sum over real positions (a scalar);
* ``"mean"``: that sum divided by the number of real positions in the batch (a scalar; 0 when the batch
  has no real position). This is the per-token average that ``F.cross_entropy(ignore_index=...)`` uses.

In data-parallel training with uneven token counts per worker, use ``"sum"`` and divide by the global
token count yourself so that every token carries the same weight.
"""

from __future__ import annotations

import torch

from s2s.losses.checks import check_reduction


def reduce_tokens(per_token: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """Zero out masked positions of a [B, T] loss and reduce it as described in the module docstring.

    ``torch.where`` (rather than multiplication) is used so that a NaN or inf at a padding position
    cannot leak into the result.
    """
    check_reduction(reduction)
    masked = torch.where(mask, per_token, torch.zeros((), dtype=per_token.dtype, device=per_token.device))
    if reduction == "none":
        return masked
    total = masked.sum()
    if reduction == "sum":
        return total
    return total / mask.sum().clamp(min=1).to(total.dtype)
