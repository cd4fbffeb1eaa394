"""What a teacher computes, on a model in this process: top-k with remaining mass, candidate scores, n-best.

The teacher service runs these on its batches, `InProcessTeacher` runs them directly (benchmarks, tests,
single-process training). They assume input already checked by `s2s.teacher.limits`.

Teacher forcing: for a target `y = [y_1..y_T]` the decoder input is `[start] + y[:-1]`; row t answers y_t.
The start token is the model's `decoder_start_token_id` (`<pad>` for Marian and T5, `</s>` for mBART-50,
M2M100 and NLLB, whose labels begin with the target language's code).

A "model" here is a Hugging Face seq2seq model, or any object that computes teacher-forced logits itself
(`ForcedScorer`: an ensemble of teachers, a CTranslate2 export) and, for n-best, searches itself
(`SelfSearching`: an ensemble).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from s2s.batching import length_sorted_batches
from s2s.decoding import Hypothesis, generate_nbest
from s2s.teacher.contract import TopKResult
from s2s.teacher.limits import DEFAULT_BATCH_TOKENS


@runtime_checkable
class ForcedScorer(Protocol):
    """A model that computes its own teacher-forced logits (an ensemble, a CTranslate2 export)."""

    config: Any
    """What `limits_for` reads the position limits from."""

    @property
    def device(self) -> torch.device: ...

    def forced_logits(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad_id: int) -> torch.Tensor:
        """Float32 logits (or log-probabilities) [B, T_max, V] of one batch; rows beyond a target are ignored."""
        ...


@runtime_checkable
class SelfSearching(Protocol):
    """A model with its own beam search (an ensemble: Hugging Face `generate` decodes one model)."""

    def nbest(self, src: Sequence[np.ndarray], pad_id: int, beam_size: int, n: int, max_len: int, max_tokens: int,
              forced_bos_id: int | None = None) -> list[list[Hypothesis]]: ...


def model_device(model: Any) -> torch.device:
    """The device the model's weights are on."""
    if isinstance(model, ForcedScorer):
        return model.device
    return next(model.parameters()).device


CPU_FORWARD_TOKENS = 1024


def forward_tokens(model: Any, budget: int) -> int:
    """Padded tokens per forward pass: the whole budget on a GPU; on CPU at most 1024, because the
    [B, T, V] logits of bigger passes fall out of the CPU caches and run slower per token."""
    return budget if model_device(model).type != "cpu" else min(budget, CPU_FORWARD_TOKENS)


def _pad_pairs(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad_id: int, device: torch.device,
               start_id: int | None = None) -> dict[str, torch.Tensor]:
    """Encoder/decoder inputs for teacher forcing; masks come from lengths, since the decoder start
    token may be the pad id and must not be masked."""
    b, s_len, t_len = len(src), max(len(s) for s in src), max(len(t) for t in tgt)
    input_ids = np.full((b, s_len), pad_id, dtype=np.int64)
    attention = np.zeros((b, s_len), dtype=np.int64)
    decoder_ids = np.full((b, t_len), pad_id, dtype=np.int64)
    decoder_mask = np.zeros((b, t_len), dtype=np.int64)
    for row, (s, t) in enumerate(zip(src, tgt, strict=True)):
        input_ids[row, : len(s)], attention[row, : len(s)] = s, 1
        decoder_ids[row, 1 : len(t)], decoder_mask[row, : len(t)] = t[:-1], 1
        decoder_ids[row, 0] = pad_id if start_id is None else start_id
    arrays = {"input_ids": input_ids, "attention_mask": attention,
              "decoder_input_ids": decoder_ids, "decoder_attention_mask": decoder_mask}
    return {name: torch.from_numpy(a).to(device) for name, a in arrays.items()}


def _chunks(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], max_tokens: int) -> list[list[int]]:
    """Length-sorted groups of sentence indices whose padded size stays within `max_tokens`."""
    return list(length_sorted_batches([len(s) + len(t) for s, t in zip(src, tgt, strict=True)], max_tokens))


def teacher_forced_logits(model: Any, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray],
                          pad_id: int) -> torch.Tensor:
    """Float32 logits [B, T, V] of one padded batch (cast up from fp16/bf16 on GPU)."""
    if isinstance(model, ForcedScorer):
        return model.forced_logits(src, tgt, pad_id)
    start = getattr(model.config, "decoder_start_token_id", None)
    out = model(**_pad_pairs(src, tgt, pad_id, model_device(model), start))
    return out.logits.float()


@torch.inference_mode()
def topk(model: Any, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], k: int, pad_id: int,
         max_tokens: int = DEFAULT_BATCH_TOKENS) -> list[TopKResult]:
    """Per target position the k most likely ids, their log q and the log of the probability left over."""
    results: list[TopKResult | None] = [None] * len(src)
    for batch in _chunks(src, tgt, max_tokens):
        logits = teacher_forced_logits(model, [src[i] for i in batch], [tgt[i] for i in batch], pad_id)
        lse = torch.logsumexp(logits, dim=-1, keepdim=True)
        values, ids = logits.topk(k, dim=-1)
        logq = (values - lse).cpu().numpy()
        # The rest in log space directly (not log(1 - sum)), which stays exact when the top-k holds ~all mass.
        logits.scatter_(-1, ids, float("-inf"))
        rest = (torch.logsumexp(logits, dim=-1) - lse.squeeze(-1)).cpu().numpy()
        ids_np = ids.cpu().numpy()
        for row, i in enumerate(batch):
            t = len(tgt[i])
            results[i] = TopKResult(ids_np[row, :t].astype(np.int64), logq[row, :t].astype(np.float32),
                                    rest[row, :t].astype(np.float32))
    return [r for r in results if r is not None]


@torch.inference_mode()
def score(model: Any, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray],
          candidates: Sequence[np.ndarray], pad_id: int, max_tokens: int = DEFAULT_BATCH_TOKENS) -> list[np.ndarray]:
    """log q of `candidates[i]` ([T_i, c_i] ids) at every target position: [T_i, c_i] float32 each."""
    results: list[np.ndarray | None] = [None] * len(src)
    for batch in _chunks(src, tgt, max_tokens):
        logits = teacher_forced_logits(model, [src[i] for i in batch], [tgt[i] for i in batch], pad_id)
        width = max(candidates[i].shape[1] for i in batch)
        index = np.zeros((len(batch), logits.shape[1], width), dtype=np.int64)
        for row, i in enumerate(batch):
            index[row, : candidates[i].shape[0], : candidates[i].shape[1]] = candidates[i]
        lse = torch.logsumexp(logits, dim=-1, keepdim=True)
        gathered = (logits.gather(-1, torch.from_numpy(index).to(logits.device)) - lse).cpu().numpy()
        for row, i in enumerate(batch):
            t, c = candidates[i].shape
            results[i] = gathered[row, :t, :c].astype(np.float32)
    return [r for r in results if r is not None]


def nbest(model: Any, src: Sequence[np.ndarray], pad_id: int, beam_size: int, n: int, max_len: int,
          max_tokens: int = DEFAULT_BATCH_TOKENS, forced_bos_id: int | None = None) -> list[list[Hypothesis]]:
    """Beam search n-best lists (Hugging Face `generate`, or the model's own search; scores length-normalised
    as beam search ranks); `forced_bos_id`: the target language's code that families like NLLB start every
    output with."""
    if isinstance(model, SelfSearching):
        return model.nbest(src, pad_id, beam_size, n, max_len, max_tokens, forced_bos_id)
    sources = [[int(x) for x in s] for s in src]
    return generate_nbest(model, sources, pad_id, beam_size, n, max_len, max_tokens, forced_bos_id=forced_bos_id)
