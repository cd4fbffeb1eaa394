"""Validation during and after training: per-token NLL on the references and greedy BLEU/chrF.

Only the first `data.valid_sentences` pairs of the validation file are used, so that evaluation stays
cheap enough to run every `eval_every` steps; the final student is evaluated the same way and the result
goes into its manifest. Full test-set evaluation is `kd evaluate`.

With `Diagnostics` (the recipe's `diagnostics: true`), each validation also reports the KA paper's
diagnostics on the reference positions, from the teacher's `TopK` (cached after the first validation):
`diag_topk_precision`, the share of the student's top-k' ids that are in the teacher's top-k;
`diag_top1_agreement`, how often both rank the same id first; and `diag_student_entropy`, the student's
mean entropy per position in nats (mode-seeking objectives lower it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import MarianMTModel

from s2s.batching import length_sorted_batches
from s2s.cmlm import CMLMModel
from s2s.corpus import read_corpus
from s2s.evaluation import evaluate_decoding
from s2s.losses import nll_loss
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch, forward_logits, to_tensors
from student_trainer.on_policy import unwrap
from student_trainer.recipe import DataSpec
from student_trainer.teacher_link import topk_tensors


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


@dataclass(frozen=True)
class Diagnostics:
    """The teacher to compare with at validation, its top-k and the student's k'."""

    teacher: Any
    k: int
    k_prime: int


class _DiagSums:
    """Running sums of the diagnostics over validation positions."""

    def __init__(self) -> None:
        self.precision = self.top1 = self.entropy = 0.0
        self.positions = 0

    def add(self, logits: torch.Tensor, teacher_ids: torch.Tensor, mask: torch.Tensor, k_prime: int) -> None:
        logp = F.log_softmax(logits.float(), dim=-1)
        own = logp.topk(min(k_prime, logp.shape[-1]), dim=-1).indices
        hits = (own.unsqueeze(-1) == teacher_ids.unsqueeze(-2)).any(dim=-1).float().mean(dim=-1)
        self.precision += float(hits[mask].sum())
        self.top1 += float((own[..., 0] == teacher_ids[..., 0])[mask].float().sum())
        self.entropy += float((-(logp.exp() * logp).sum(-1))[mask].sum())
        self.positions += int(mask.sum())

    def result(self) -> dict[str, float]:
        n = max(self.positions, 1)
        return {"diag_topk_precision": self.precision / n, "diag_top1_agreement": self.top1 / n,
                "diag_student_entropy": self.entropy / n}


def _evaluate_cmlm(model: CMLMModel, tokenizer: Tokenizer, valid: ValidSet, max_len: int) -> dict[str, Any]:
    """A Mask-Predict student: BLEU and chrF of mask-predict decoding (T = 4, 3 lengths: cheap enough to run
    during training; `kd evaluate` decodes at any T); no per-token NLL, which a CMLM does not define."""
    result, _ = evaluate_decoding(model, tokenizer, valid.sources, valid.references, beam_size=1,  # type: ignore[arg-type]
                                  max_len=max_len, progress=False, iterations=4, length_beam=3)
    return {"valid_bleu": result.scores.bleu, "valid_chrf": result.scores.chrf,
            "valid_sentences": len(valid.sources), "valid_decoding": result.decoding}


@torch.no_grad()
def evaluate(model: nn.Module, tokenizer: Tokenizer, valid: ValidSet, device: torch.device,
             max_len: int, diagnostics: Diagnostics | None = None) -> dict[str, Any]:
    """`valid_nll` (per token, no smoothing), `valid_bleu` and `valid_chrf` (greedy decoding), and the
    `diag_*` diagnostics when a teacher is given."""
    if not valid.sources:
        return {}
    plain = unwrap(model)
    was_training = plain.training
    plain.eval()
    diag = _DiagSums()
    if isinstance(plain, CMLMModel):
        try:
            return _evaluate_cmlm(plain, tokenizer, valid, max_len)
        finally:
            plain.train(was_training)
    try:
        total, tokens = 0.0, 0
        for batch in valid.batches:
            t = to_tensors(batch, tokenizer.pad_id, device)
            logits = forward_logits(plain, t)
            total += float(nll_loss(logits, t.labels, tokenizer.pad_id, reduction="sum"))
            tokens += batch.target_tokens
            if diagnostics is not None:
                answer = diagnostics.teacher.topk_async(batch.src, batch.tgt, diagnostics.k).result()
                top = topk_tensors(answer, logits.shape[1], logits.device)
                diag.add(logits, top.ids, t.target_mask, diagnostics.k_prime)
        assert isinstance(plain, MarianMTModel)
        result, _ = evaluate_decoding(plain, tokenizer, valid.sources, valid.references, beam_size=1,
                                      max_len=max_len, progress=False)
    finally:
        plain.train(was_training)
    return {"valid_nll": total / max(tokens, 1), "valid_bleu": result.scores.bleu,
            "valid_chrf": result.scores.chrf, "valid_sentences": len(valid.sources),
            **(diag.result() if diagnostics is not None else {})}
