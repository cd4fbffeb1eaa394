"""Choosing the device and precision a model runs in."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from s2s.errors import KDError


@dataclass(frozen=True)
class Placement:
    """Where a model runs and in which floating-point type."""

    device: torch.device
    dtype: torch.dtype

    def describe(self) -> str:
        return f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"


def pick_placement(device: str = "auto", half: bool = True) -> Placement:
    """`auto` takes CUDA when present (bf16 if supported, else fp16 when `half`), else CPU in fp32."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise KDError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise KDError(f"device {device!r} requested but no CUDA GPU is visible; use --device cpu or auto")
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return Placement(torch.device("cpu"), torch.float32)
    dev = torch.device("cuda" if device == "auto" else device)
    if not half:
        return Placement(dev, torch.float32)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return Placement(dev, dtype)
