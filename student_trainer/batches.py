"""A batch of token ids and its padded tensors in the project's teacher-forcing convention.

For labels `y = [y_1..y_T]` (ending in `</s>`) the decoder input is `[pad] + y[:-1]` (the pad id is
Marian's decoder start token), so position t of the logits predicts `y_t` -- the same positions the
teacher's `TopK` and `Score` answers refer to (`forward_logits` runs a model that way).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from s2s.batching import pad_ids


@dataclass(frozen=True)
class Batch:
    """Source and target ids of some sentence pairs (targets end in `</s>`)."""

    src: list[list[int]]
    tgt: list[list[int]]

    @property
    def target_tokens(self) -> int:
        """Real target tokens: the number of positions a loss is averaged over."""
        return sum(len(t) for t in self.tgt)

    @property
    def size(self) -> int:
        return len(self.src)


@dataclass(frozen=True)
class BatchTensors:
    """Padded tensors of a `Batch` on one device."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    decoder_input_ids: torch.Tensor
    decoder_mask: torch.Tensor
    labels: torch.Tensor

    @property
    def target_mask(self) -> torch.Tensor:
        """[B, T] bool, True at real target positions (same as `decoder_mask`)."""
        return self.decoder_mask


def to_tensors(batch: Batch, pad_id: int, device: torch.device | str = "cpu") -> BatchTensors:
    """Pad a batch and build the shifted decoder input; everything on `device`."""
    input_ids, attention_mask = pad_ids(batch.src, pad_id)
    labels, label_mask = pad_ids(batch.tgt, pad_id)
    decoder_input_ids = torch.full_like(labels, pad_id)
    decoder_input_ids[:, 1:] = labels[:, :-1]
    decoder_input_ids = decoder_input_ids.masked_fill(~label_mask, pad_id)
    return BatchTensors(input_ids.to(device), attention_mask.to(device), decoder_input_ids.to(device),
                        label_mask.to(device), labels.to(device))


def forward_logits(model: nn.Module, t: BatchTensors) -> torch.Tensor:
    """[B, T, V] student logits under teacher forcing."""
    out = model(input_ids=t.input_ids, attention_mask=t.attention_mask, decoder_input_ids=t.decoder_input_ids,
                decoder_attention_mask=t.decoder_mask)
    return out.logits  # type: ignore[no-any-return]
