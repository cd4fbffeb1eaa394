"""Mask-Predict decoding of a CMLM (Ghazvininejad et al. 2019, as in their `strategies/mask_predict.py`).

For each source, the ℓ most likely lengths (at least 2) are decoded side by side. Each candidate starts as
all masks and is predicted at once (token = argmax, confidence = its probability). For t = 1 … T−1 the
n = ⌊L·(T−t)/T⌋ (at least 1) least confident positions are masked again and re-predicted; the other
positions keep their token and their old confidence. That is T decoder passes; T = 1 is one-pass
non-autoregressive decoding. The candidate with the best mean log-probability wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from s2s.batching import length_sorted_batches, pad_ids
from s2s.cmlm import CMLMModel
from s2s.errors import KDError
from s2s.families.base import SeqTokenizer


@dataclass(frozen=True)
class CMLMOutput:
    """One decoded translation: its token ids (no `</s>`), mean log-probability and length."""

    ids: list[int]
    score: float


def remask_counts(length: int, iterations: int) -> list[int]:
    """How many tokens each iteration after the first masks again: ⌊L·(T−t)/T⌋, at least 1, in integers
    (in floats, 10·(1−8/10) floors to 1 instead of 2)."""
    return [max(1, (length * (iterations - t)) // iterations) for t in range(1, iterations)]


def top_lengths(length_logprobs: torch.Tensor, beam: int, max_len: int) -> torch.Tensor:
    """[B, beam] candidate lengths: the most likely ones, clamped to 2..max_len."""
    lengths = length_logprobs.topk(min(beam, length_logprobs.shape[-1]), dim=-1).indices
    return lengths.clamp(min=2, max=max_len)


@torch.inference_mode()
def mask_predict(model: CMLMModel, src_ids: Sequence[Sequence[int]], pad_id: int, iterations: int = 10,
                 length_beam: int = 5, max_len: int = 256, max_tokens: int = 4096) -> list[CMLMOutput]:
    """Decode every source (in input order) with T = `iterations` passes and ℓ = `length_beam` lengths."""
    if iterations < 1 or length_beam < 1:
        raise KDError(f"iterations and length beam must be >= 1, got {iterations} and {length_beam}")
    was_training = model.training
    model.eval()
    try:
        results: list[CMLMOutput | None] = [None] * len(src_ids)
        budget = max(max_tokens // max(length_beam, 1), 1)
        for group in length_sorted_batches([len(s) for s in src_ids], budget):
            outputs = _decode_batch(model, [src_ids[i] for i in group], pad_id, iterations, length_beam, max_len)
            for i, out in zip(group, outputs, strict=True):
                results[i] = out
    finally:
        model.train(was_training)
    return [r for r in results if r is not None]


def _decode_batch(model: CMLMModel, src: Sequence[Sequence[int]], pad_id: int, iterations: int, beam: int,
                  max_len: int) -> list[CMLMOutput]:
    device = next(model.parameters()).device
    ids, mask = (t.to(device) for t in pad_ids(src, pad_id))
    encoded = model.encode(ids, mask)
    lengths = top_lengths(model.length_logits(encoded, mask), beam, max_len)  # [B, l]
    beam = lengths.shape[1]
    flat = lengths.reshape(-1)  # candidate j belongs to sentence j // beam
    enc = encoded.repeat_interleave(beam, dim=0)
    enc_mask = mask.repeat_interleave(beam, dim=0)
    width = int(flat.max())
    real = torch.arange(width, device=device)[None, :] < flat[:, None]
    tokens = torch.full(real.shape, model.mask_id, dtype=torch.long, device=device).masked_fill(~real, pad_id)
    logp = torch.zeros(real.shape, device=device)
    remask = real.clone()
    for t in range(iterations):
        if t > 0:
            counts = torch.tensor([remask_counts(int(n), iterations)[t - 1] for n in flat], device=device)
            remask = _least_confident(logp, real, counts)
            tokens = tokens.masked_fill(remask, model.mask_id)
        hidden = model.decode_hidden(tokens, real, enc, enc_mask)[remask]  # [M, d]: the re-predicted positions
        best_logp, best = torch.log_softmax(model.project(hidden).float(), dim=-1).max(dim=-1)
        tokens = tokens.masked_scatter(remask, best)
        logp = logp.masked_scatter(remask, best_logp)
    scores = (logp * real).sum(-1) / flat
    outputs = []
    for b in range(len(src)):
        j = b * beam + int(scores[b * beam:(b + 1) * beam].argmax())
        outputs.append(CMLMOutput(tokens[j, : int(flat[j])].tolist(), float(scores[j])))
    return outputs


def _least_confident(logp: torch.Tensor, real: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """[N, T] bool: for each row, its `counts[row]` real positions of lowest log-probability."""
    ranked = logp.masked_fill(~real, float("inf")).argsort(dim=-1)
    rank = torch.empty_like(ranked)
    rank.scatter_(-1, ranked, torch.arange(ranked.shape[1], device=ranked.device).expand_as(ranked))
    return (rank < counts[:, None]) & real


def translate_cmlm(model: CMLMModel, tokenizer: SeqTokenizer, texts: Sequence[str], iterations: int = 10,
                   length_beam: int = 5, max_len: int = 256) -> list[str]:
    """Translate `texts` with mask-predict, in input order."""
    src = tokenizer.encode_batch(texts, "source", max_len=model.config.max_position_embeddings)
    cap = min(max_len, int(model.config.max_position_embeddings))
    return [tokenizer.decode(out.ids) for out in mask_predict(model, src, tokenizer.pad_id, iterations, length_beam,
                                                                cap)]
