"""Numeric precision policy of the losses: log-softmax and sums run in float32 or wider.

Logits may arrive in bfloat16/float16 (mixed-precision training); log-softmax over a large vocabulary in
those dtypes loses too much precision, so they are cast to float32. float64 input is kept as float64 so
that ``torch.autograd.gradcheck`` can verify the analytic gradients.
"""

from __future__ import annotations

import torch


def upcast(tensor: torch.Tensor) -> torch.Tensor:
    """Return ``tensor`` as float32, or unchanged if it is already float64."""
    return tensor if tensor.dtype == torch.float64 else tensor.float()
