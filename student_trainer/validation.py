"""Validation during and after training: per-token NLL on the references and greedy BLEU/chrF.

Only the first `data.valid_sentences` pairs of the validation file are used, so that evaluation stays
cheap enough to run every `eval_every` steps; the final student is evaluated the same way and the result
goes into its manifest. Full test-set evaluation is `kd evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import MarianMTModel

from s2s.batching import length_sorted_batches
from s2s.corpus import read_corpus
from s2s.evaluation import evaluate_decoding
from s2s.losses import nll_loss
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch, to_tensors
from student_trainer.objectives import forward_logits
from student_trainer.on_policy import unwrap
from student_trainer.recipe import DataSpec


@dataclass(frozen=True)
class ValidSet:
    """Validation sources, references and their token-budget batches."""

    sources: list[str]
    references: list[str]
    batches: list[Batch]


def load_valid(spec: DataSpec, tokenizer: Tokenizer) -> ValidSet:
    """The first `spec.valid_sentences` pairs of the validation file, tokenised and batched."""
    pairs = read_corpus(Path(spec.valid), src_col=spec.src_col, tgt_col=spec.tgt_col).pairs[: spec.valid_sentences]
    src = [tokenizer.encode_source(p.src, spec.max_len) for p in pairs]
    tgt = [tokenizer.encode_target(p.tgt, spec.max_len) for p in pairs]
    lengths = [max(len(s), len(t)) for s, t in zip(src, tgt, strict=True)]
    batches = [Batch([src[i] for i in g], [tgt[i] for i in g])
               for g in length_sorted_batches(lengths, spec.max_tokens, spec.max_sentences)]
    return ValidSet([p.src for p in pairs], [p.tgt for p in pairs], batches)


@torch.no_grad()
def evaluate(model: nn.Module, tokenizer: Tokenizer, valid: ValidSet, device: torch.device,
             max_len: int) -> dict[str, Any]:
    """`valid_nll` (per token, no smoothing), `valid_bleu` and `valid_chrf` (greedy decoding)."""
    if not valid.sources:
        return {}
    plain = unwrap(model)
    was_training = plain.training
    plain.eval()
    try:
        total, tokens = 0.0, 0
        for batch in valid.batches:
            t = to_tensors(batch, tokenizer.pad_id, device)
            total += float(nll_loss(forward_logits(plain, t), t.labels, tokenizer.pad_id, reduction="sum"))
            tokens += batch.target_tokens
        assert isinstance(plain, MarianMTModel)
        result, _ = evaluate_decoding(plain, tokenizer, valid.sources, valid.references, beam_size=1,
                                      max_len=max_len, progress=False)
    finally:
        plain.train(was_training)
    return {"valid_nll": total / max(tokens, 1), "valid_bleu": result.scores.bleu,
            "valid_chrf": result.scores.chrf, "valid_sentences": len(valid.sources)}
