"""Padding id sequences into tensors and grouping sentences into token-budget batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


def pad_ids(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad `seqs` to `[B, T_max]`; returns the ids (long) and the mask (bool, True = real token)."""
    if not seqs:
        raise ValueError("cannot pad an empty batch")
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    return ids, ids != pad_id if width else torch.zeros_like(ids, dtype=torch.bool)


def length_sorted_batches(lengths: Sequence[int], max_tokens: int, max_sentences: int = 512) -> Iterator[list[int]]:
    """Indices grouped so that `batch_size * longest` stays within `max_tokens` (one long sentence alone
    may exceed it). Sorting by length keeps padding small; callers restore the original order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if batch and (longest_if_added * (len(batch) + 1) > max_tokens or len(batch) >= max_sentences):
            yield batch
            batch, longest_if_added = [], lengths[i]
        batch.append(i)
        longest = longest_if_added
    if batch:
        yield batch
