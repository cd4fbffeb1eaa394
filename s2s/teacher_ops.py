"""What a teacher computes, on a model in this process: top-k with remaining mass, candidate scores, n-best.

The teacher service runs these on its batches, `InProcessTeacher` runs them directly (benchmarks, tests,
single-process training). The types here (`TeacherInfo`, `TopKResult`, `TeacherError` and its kinds) are
the ones `teacher_client` returns and raises, so both teachers are interchangeable. The input checks and
request cost rules are here too, so server and in-process teacher refuse bad input with the same messages
(the computations assume checked input).

Teacher forcing: for a target `y = [y_1..y_T]` the decoder input is `[pad] + y[:-1]`; row t answers y_t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import MarianMTModel

from s2s.batching import length_sorted_batches
from s2s.decoding import Hypothesis, generate_nbest
from s2s.errors import KDError


@dataclass(frozen=True)
class TeacherInfo:
    """Identity and limits of a teacher; `vocab_fingerprint` must equal the student's."""

    model_id: str
    vocab_size: int
    vocab_fingerprint: str
    pad_id: int
    eos_id: int
    max_source_len: int
    max_target_len: int
    max_k: int
    max_batch_tokens: int


@dataclass(frozen=True, eq=False)
class TopKResult:
    """Top-k of one sentence: `ids` [T,k] int64 (best first), `logq` [T,k] float32, `rest_logmass` [T]
    float32 = log(1 - sum of the top-k probabilities) (-inf when k covers the vocabulary)."""

    ids: np.ndarray
    logq: np.ndarray
    rest_logmass: np.ndarray


class TeacherError(KDError):
    """A teacher request failed. Transports map the kinds below to their own status codes (the gRPC
    service in `services.teacher.status`, its client in `teacher_client`); this layer names none."""


class TeacherInputError(TeacherError):
    """The request itself is wrong (ids, shapes, lengths, k, beam); resending it cannot succeed."""


class TeacherLimitError(TeacherError):
    """The request is valid but larger than the teacher accepts in one piece; split it."""


class TeacherOverloadedError(TeacherError):
    """The teacher's queue is full: the same request succeeds later (after `retry_after_s`) or elsewhere."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TeacherUnavailableError(TeacherError):
    """The teacher cannot take requests now (it is shutting down); another replica can."""


@dataclass(frozen=True)
class TeacherLimits:
    """What one request may ask of a teacher; every bound is inclusive."""

    vocab_size: int
    max_source_len: int
    max_target_len: int
    max_k: int
    max_beam: int
    max_batch_tokens: int


# The limits a teacher enforces unless configured otherwise: stated once here, used by the in-process
# teacher and as the defaults of the teacher service's settings (`services.teacher.config`).
DEFAULT_MAX_K, DEFAULT_MAX_BEAM, DEFAULT_BATCH_TOKENS = 64, 16, 8192


def limits_for(model: MarianMTModel, vocab_size: int, max_k: int = DEFAULT_MAX_K, max_beam: int = DEFAULT_MAX_BEAM,
               max_batch_tokens: int = DEFAULT_BATCH_TOKENS) -> TeacherLimits:
    """Limits of a Marian model: lengths are capped by its position table, k by the vocabulary."""
    positions = int(model.config.max_position_embeddings)
    return TeacherLimits(vocab_size, positions, positions, min(max_k, vocab_size), max_beam, max_batch_tokens)


def as_ids(seq: Sequence[int] | np.ndarray, what: str, ndim: int = 1) -> np.ndarray:
    """An int64 id array of rank `ndim` (1: a sequence, 2: candidates per position), or a
    `TeacherInputError` saying that `what` is not integers of that shape."""
    arr = np.asarray(seq)
    if arr.ndim != ndim:
        kind = "a flat list of token ids" if ndim == 1 else f"a {ndim}-D array of token ids"
        raise TeacherInputError(f"{what}: expected {kind}, got shape {list(arr.shape)}")
    if arr.size and (arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer)):
        raise TeacherInputError(f"{what}: token ids must be integers, got {arr.dtype}")
    return arr.astype(np.int64)


def check_ids(ids: np.ndarray, vocab_size: int, what: str) -> None:
    """Every id within [0, vocab_size), or an error naming the first bad one and where it is."""
    bad = np.flatnonzero((ids < 0) | (ids >= vocab_size))
    if bad.size:
        where = tuple(int(w) for w in np.unravel_index(int(bad[0]), ids.shape))
        position = where[0] if len(where) == 1 else list(where)
        raise TeacherInputError(f"{what}: id {int(ids[where])} at position {position} is outside "
                                f"the vocabulary [0, {vocab_size}); teacher and student must share one vocabulary")


def _check_sequence(ids: np.ndarray, limit: int, vocab_size: int, what: str) -> None:
    if ids.size == 0:
        raise TeacherInputError(f"{what} is empty; every sequence has at least its final </s>")
    if ids.size > limit:
        raise TeacherInputError(f"{what} has {ids.size} tokens, the teacher accepts at most {limit}; truncate it")
    check_ids(ids, vocab_size, what)


def check_pairs(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray] | None, limits: TeacherLimits) -> None:
    """A non-empty batch, as many targets as sources, every sequence non-empty, short enough and in range."""
    if not src:
        raise TeacherInputError("empty batch: send at least one sentence")
    if tgt is not None and len(tgt) != len(src):
        raise TeacherInputError(f"ragged batch: {len(src)} sources but {len(tgt)} targets")
    for i, s in enumerate(src):
        _check_sequence(s, limits.max_source_len, limits.vocab_size, f"sentence {i}: source")
        if tgt is not None:
            _check_sequence(tgt[i], limits.max_target_len, limits.vocab_size, f"sentence {i}: target")


def check_k(k: int, limits: TeacherLimits) -> None:
    if not 1 <= k <= limits.max_k:
        raise TeacherInputError(f"k = {k} is out of range; this teacher answers 1 <= k <= {limits.max_k}")


def check_candidates(tgt: Sequence[np.ndarray], candidates: Sequence[np.ndarray], limits: TeacherLimits) -> None:
    """One [len(target), c >= 1] id array per sentence, ids in the vocabulary."""
    if len(candidates) != len(tgt):
        raise TeacherInputError(f"{len(candidates)} candidate arrays for {len(tgt)} sentences; send one per sentence")
    for i, (t, cand) in enumerate(zip(tgt, candidates, strict=True)):
        if cand.ndim != 2 or cand.shape[0] != len(t) or cand.shape[1] < 1:
            raise TeacherInputError(f"sentence {i}: candidates have shape {list(cand.shape)}, expected "
                                    f"[{len(t)} target positions, c >= 1 candidates]")
        check_ids(cand, limits.vocab_size, f"sentence {i}: candidates")


def check_generate(beam_size: int, n: int, max_len: int, limits: TeacherLimits) -> None:
    if not 1 <= beam_size <= limits.max_beam:
        raise TeacherInputError(f"beam_size = {beam_size} is out of range 1..{limits.max_beam}")
    if not 1 <= n <= beam_size:
        raise TeacherInputError(f"nbest = {n} is out of range 1..beam_size ({beam_size})")
    if not 1 <= max_len <= limits.max_target_len:
        raise TeacherInputError(f"max_len = {max_len} is out of range 1..{limits.max_target_len}")


def pair_cost(src: np.ndarray, tgt: np.ndarray) -> int:
    """Tokens a teacher-forced sentence costs against the budget (TopK, Score)."""
    return len(src) + len(tgt)


SCORE_CANDIDATES_PER_TOKEN = 64


def score_cost(src: np.ndarray, tgt: np.ndarray, width: int) -> int:
    """Tokens a Score sentence costs: like TopK, with every target position charged once more per
    `SCORE_CANDIDATES_PER_TOKEN` candidates beyond the first group (the [T, c] ids and scores a request
    makes the server hold), so that a request for very many candidates cannot take the memory of many."""
    return len(src) + len(tgt) * -(-max(width, 1) // SCORE_CANDIDATES_PER_TOKEN)


def generate_cost(src: np.ndarray, beam_size: int, max_len: int) -> int:
    """Tokens a sentence costs in beam search: every beam carries the source and up to `max_len` outputs."""
    return beam_size * (len(src) + max_len)


def check_budget(tokens: int, limits: TeacherLimits) -> None:
    if tokens > limits.max_batch_tokens:
        raise TeacherLimitError(
            f"request costs {tokens} tokens, over this teacher's budget of {limits.max_batch_tokens} per request; "
            "send fewer sentences per request (TeacherClient splits batches by Info.max_batch_tokens)")


def split_by_budget(costs: Sequence[int], budget: int) -> list[list[int]]:
    """Consecutive index groups whose cost sums stay within `budget` (a single item over it stands alone)."""
    groups: list[list[int]] = []
    total = 0
    for i, cost in enumerate(costs):
        if groups and total + cost <= budget:
            groups[-1].append(i)
            total += cost
        else:
            groups.append([i])
            total = cost
    return groups


def model_device(model: MarianMTModel) -> torch.device:
    """The device the model's weights are on."""
    return next(model.parameters()).device


CPU_FORWARD_TOKENS = 1024


def forward_tokens(model: MarianMTModel, budget: int) -> int:
    """Padded tokens per forward pass: the whole budget on a GPU; on CPU at most 1024, because the
    [B, T, V] logits of bigger passes fall out of the CPU caches and run slower per token."""
    return budget if model_device(model).type != "cpu" else min(budget, CPU_FORWARD_TOKENS)


def _pad_pairs(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad_id: int,
               device: torch.device) -> dict[str, torch.Tensor]:
    """Encoder/decoder inputs for teacher forcing; masks come from lengths, since the decoder start
    token is the pad id and must not be masked."""
    b, s_len, t_len = len(src), max(len(s) for s in src), max(len(t) for t in tgt)
    input_ids = np.full((b, s_len), pad_id, dtype=np.int64)
    attention = np.zeros((b, s_len), dtype=np.int64)
    decoder_ids = np.full((b, t_len), pad_id, dtype=np.int64)
    decoder_mask = np.zeros((b, t_len), dtype=np.int64)
    for row, (s, t) in enumerate(zip(src, tgt, strict=True)):
        input_ids[row, : len(s)], attention[row, : len(s)] = s, 1
        decoder_ids[row, 1 : len(t)], decoder_mask[row, : len(t)] = t[:-1], 1
    arrays = {"input_ids": input_ids, "attention_mask": attention,
              "decoder_input_ids": decoder_ids, "decoder_attention_mask": decoder_mask}
    return {name: torch.from_numpy(a).to(device) for name, a in arrays.items()}


def _chunks(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], max_tokens: int) -> list[list[int]]:
    """Length-sorted groups of sentence indices whose padded size stays within `max_tokens`."""
    return list(length_sorted_batches([len(s) + len(t) for s, t in zip(src, tgt, strict=True)], max_tokens))


def _logits(model: MarianMTModel, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad_id: int) -> torch.Tensor:
    """Float32 logits [B, T, V] of one padded batch (cast up from fp16/bf16 on GPU)."""
    out = model(**_pad_pairs(src, tgt, pad_id, model_device(model)))
    return out.logits.float()


@torch.inference_mode()
def topk(model: MarianMTModel, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], k: int, pad_id: int,
         max_tokens: int = DEFAULT_BATCH_TOKENS) -> list[TopKResult]:
    """Per target position the k most likely ids, their log q and the log of the probability left over."""
    results: list[TopKResult | None] = [None] * len(src)
    for batch in _chunks(src, tgt, max_tokens):
        logits = _logits(model, [src[i] for i in batch], [tgt[i] for i in batch], pad_id)
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
def score(model: MarianMTModel, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray],
          candidates: Sequence[np.ndarray], pad_id: int, max_tokens: int = DEFAULT_BATCH_TOKENS) -> list[np.ndarray]:
    """log q of `candidates[i]` ([T_i, c_i] ids) at every target position: [T_i, c_i] float32 each."""
    results: list[np.ndarray | None] = [None] * len(src)
    for batch in _chunks(src, tgt, max_tokens):
        logits = _logits(model, [src[i] for i in batch], [tgt[i] for i in batch], pad_id)
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


def nbest(model: MarianMTModel, src: Sequence[np.ndarray], pad_id: int, beam_size: int, n: int, max_len: int,
          max_tokens: int = DEFAULT_BATCH_TOKENS) -> list[list[Hypothesis]]:
    """Beam search n-best lists (Hugging Face `generate`; scores length-normalised as beam search ranks)."""
    sources = [[int(x) for x in s] for s in src]
    return generate_nbest(model, sources, pad_id, beam_size, n, max_len, max_tokens)
