"""What one teacher request may ask and what it costs: the limits, the input checks and the cost rules.

Server and in-process teacher run the same checks, so both refuse bad input with the same messages (the
computations in `s2s.teacher.compute` assume checked input). The cost rules say how many tokens of a
teacher's per-request budget a sentence takes; `teacher_client` uses the same rules to split calls into
requests the teacher accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from s2s.teacher.contract import TeacherInputError, TeacherLimitError

if TYPE_CHECKING:
    from transformers import MarianMTModel


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
    """Limits of a model: lengths are capped by its position table (512 for T5's relative positions), k by
    the vocabulary."""
    from s2s.families.base import max_positions

    positions = max_positions(model.config)
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
    """A top-k width the teacher answers: 1 <= k <= max_k."""
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
    """A beam within max_beam, an n-best no longer than the beam, a length limit within the positions."""
    if not 1 <= beam_size <= limits.max_beam:
        raise TeacherInputError(f"beam_size = {beam_size} is out of range 1..{limits.max_beam}")
    if not 1 <= n <= beam_size:
        raise TeacherInputError(f"nbest = {n} is out of range 1..beam_size ({beam_size})")
    if not 1 <= max_len <= limits.max_target_len:
        raise TeacherInputError(f"max_len = {max_len} is out of range 1..{limits.max_target_len}")


def pair_cost(src: np.ndarray, tgt: np.ndarray) -> int:
    """Tokens a teacher-forced sentence costs against the budget (TopK, Score)."""
    return len(src) + len(tgt)


# The cost rules on lengths alone, for a server that prices a request from its message's declared sizes
# before converting anything (`services.teacher.wire`); the array versions below call them.


SCORE_CANDIDATES_PER_TOKEN = 64


def score_cost(src: np.ndarray, tgt: np.ndarray, width: int) -> int:
    """Tokens a Score sentence costs: like TopK, with every target position charged once more per
    `SCORE_CANDIDATES_PER_TOKEN` candidates beyond the first group (the [T, c] ids and scores a request
    makes the server hold), so that a request for very many candidates cannot take the memory of many."""
    return score_cost_of(len(src), len(tgt), width)


def score_cost_of(src_len: int, tgt_len: int, width: int) -> int:
    """`score_cost` from lengths: a source of `src_len`, `tgt_len` positions of `width` candidates."""
    return src_len + tgt_len * -(-max(width, 1) // SCORE_CANDIDATES_PER_TOKEN)


def generate_cost(src: np.ndarray, beam_size: int, max_len: int) -> int:
    """Tokens a sentence costs in beam search: every beam carries the source and up to `max_len` outputs."""
    return generate_cost_of(len(src), beam_size, max_len)


def generate_cost_of(src_len: int, beam_size: int, max_len: int) -> int:
    """`generate_cost` from the source's length."""
    return beam_size * (src_len + max_len)


def text_generate_cost(text: str, beam_size: int, max_len: int, max_source_len: int) -> int:
    """An upper bound of `generate_cost` for a source given as text, before the teacher tokenises it: a
    token covers at least one character, plus a task prefix or language code (16 tokens at most), and the
    teacher cuts sources to `max_source_len`."""
    return beam_size * (min(len(text) + 16, max_source_len) + max_len)


def check_budget(tokens: int, limits: TeacherLimits) -> None:
    """A request's total cost within the teacher's per-request budget, else a `TeacherLimitError`."""
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
