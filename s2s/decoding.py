"""Batched greedy and beam translation through a PyTorch seq2seq model (a student, or a teacher of any family)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from tqdm import tqdm
from transformers import MarianMTModel

from s2s.batching import length_sorted_batches, pad_ids
from s2s.families.base import SeqTokenizer, max_positions


@dataclass(frozen=True)
class Hypothesis:
    """One output sequence (ids without the decoder start token, ending in `</s>` unless cut by length)
    and its score: the length-normalised log-probability that beam search ranks by."""

    ids: list[int]
    score: float
    text: str = field(default="", compare=False)
    """The output detokenised by the model's own tokenizer, where the producer filled it in (the teacher's
    Generate does): what crosses vocabularies in sequence-level distillation."""


@torch.inference_mode()
def generate_nbest(model: MarianMTModel, src_ids: Sequence[Sequence[int]], pad_id: int, beam_size: int = 1,
                   nbest: int = 1, max_len: int = 128, max_tokens: int = 4096,
                   progress: bool = False, forced_bos_id: int | None = None) -> list[list[Hypothesis]]:
    """The `nbest` best outputs for every source sequence, in input order (greedy when `beam_size` == 1).

    `forced_bos_id` is the first output token of families that force the target language's code (mBART-50,
    M2M100, NLLB); it is part of every hypothesis, as the model's labels have it. `</s>` is forced at the
    length cap for every family (Marian configs ask for it, others may not), so that `max_len` counts it
    and a hypothesis is the same through PyTorch and CTranslate2."""
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest must be between 1 and beam_size ({beam_size}), got {nbest}")
    results: list[list[Hypothesis]] = [[] for _ in src_ids]
    batches = list(length_sorted_batches([len(s) for s in src_ids], max_tokens // max(beam_size, 1)))
    device = next(model.parameters()).device
    for batch in tqdm(batches, desc=f"decode beam={beam_size}", disable=not progress, unit="batch"):
        ids, mask = pad_ids([src_ids[i] for i in batch], pad_id)
        generate: Any = cast(Any, model).generate
        out = generate(
            input_ids=ids.to(device), attention_mask=mask.to(device), num_beams=beam_size,
            num_return_sequences=nbest, max_new_tokens=max_len, do_sample=False,
            output_scores=True, return_dict_in_generate=True, **_beam_flags(beam_size),
            forced_eos_token_id=model.config.eos_token_id,
            **({"forced_bos_token_id": forced_bos_id} if forced_bos_id is not None else {}),
        )
        seqs = out.sequences[:, 1:].tolist()
        scores = _sequence_scores(model, out, beam_size)
        for j, idx in enumerate(batch):
            for r in range(nbest):
                row = j * nbest + r
                results[idx].append(Hypothesis(_strip(seqs[row], pad_id), float(scores[row])))
    return results


def _beam_flags(beam_size: int) -> dict[str, object]:
    return {"early_stopping": True, "length_penalty": 1.0} if beam_size > 1 else {}


def _sequence_scores(model: MarianMTModel, out: object, beam_size: int) -> list[float]:
    if beam_size > 1:
        return [float(s) for s in out.sequences_scores]  # type: ignore[attr-defined]
    steps = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)  # type: ignore
    # Greedy search pads a finished row with <pad> until the batch's longest row ends: those steps are not
    # part of the hypothesis (their log-probabilities are finite), so only steps up to its first </s> count.
    generated = out.sequences[:, 1:][:, : steps.shape[1]]  # type: ignore[attr-defined]
    is_eos = generated == model.config.eos_token_id
    after_eos = (torch.cumsum(is_eos.long(), dim=1) - is_eos.long()) > 0
    counted = torch.isfinite(steps) & ~after_eos
    finite = torch.where(counted, steps, torch.zeros_like(steps))
    lengths = counted.sum(dim=1).clamp(min=1)
    return (finite.sum(dim=1) / lengths).tolist()


def _strip(ids: list[int], pad_id: int) -> list[int]:
    """Drop right padding; keep everything up to and including the first `</s>`."""
    while ids and ids[-1] == pad_id:
        ids.pop()
    return ids


def translate(model: MarianMTModel, tokenizer: SeqTokenizer, texts: Sequence[str], beam_size: int = 1,
              max_len: int = 128, max_tokens: int = 4096, progress: bool = False) -> list[str]:
    """Translate `texts` (greedy when `beam_size` == 1), in input order."""
    src = tokenizer.encode_batch(texts, "source", max_len=max_positions(model.config))
    hyps = generate_nbest(model, src, tokenizer.pad_id, beam_size, 1, max_len, max_tokens, progress,
                          tokenizer.forced_bos_id)
    return [tokenizer.decode(h[0].ids) for h in hyps]
