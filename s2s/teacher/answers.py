"""Checking a teacher's answers by value before they enter training.

A `TopK` or `Score` answer crosses trust boundaries on its way to a loss: it may come from a cache any local
user can write to, from a replica running a broken model, or from a stored file. A single NaN, +inf or
impossible log-probability there trains through (the loss stays finite-looking while its gradient is NaN),
so every answer is checked where it enters: the teacher service treats a bad cached value as a miss, the
client and the in-process teacher raise `TeacherAnswerError` for a bad live answer, and a store of answers
uses the same functions.

What a valid answer is: the shape the request asked for; every log q finite and at most 0 (within
`LOGQ_TOLERANCE`, which covers the float16 rounding on the wire); the rest mass's log never NaN nor above
0 (it is -inf where the top-k covers the whole vocabulary); top-k ids inside the vocabulary and distinct
within each position. A sampled answer (m draws from q per position, as ids and counts) has in-range ids,
ascending within a position, and counts >= 1 that sum to m at every one of the target's positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from s2s.teacher.contract import MAX_SAMPLES, SampledResult, TeacherError, TopKResult

LOGQ_TOLERANCE = 1e-3


class TeacherAnswerError(TeacherError):
    """A teacher's answer is malformed or holds impossible values (NaN, infinity, log q > 0, repeated ids)."""


def topk_problem(result: TopKResult, target_len: int, k: int, vocab_size: int) -> str | None:
    """What is wrong with one sentence's top-k answer for a target of `target_len` tokens, or None."""
    ids, logq, rest = result.ids, result.logq, result.rest_logmass
    if ids.shape != (target_len, k) or logq.shape != (target_len, k) or rest.shape != (target_len,):
        return (f"shapes ids {list(ids.shape)}, logq {list(logq.shape)}, rest {list(rest.shape)} do not answer "
                f"[{target_len} positions, k = {k}]")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        return f"an id outside the vocabulary [0, {vocab_size})"
    if k > 1 and bool((np.diff(np.sort(ids, axis=1), axis=1) == 0).any()):
        row = int(np.flatnonzero((np.diff(np.sort(ids, axis=1), axis=1) == 0).any(axis=1))[0])
        return f"position {row} lists an id twice"
    problem = _logprob_problem(logq, "log q", allow_minus_inf=False)
    return problem or _logprob_problem(rest, "the rest mass's log", allow_minus_inf=True)


def score_problem(logq: np.ndarray, shape: tuple[int, int]) -> str | None:
    """What is wrong with one sentence's `Score` answer for [T, c] candidates, or None."""
    if logq.shape != shape:
        return f"shape {list(logq.shape)} does not answer [{shape[0]} positions, {shape[1]} candidates]"
    return _logprob_problem(logq, "log q", allow_minus_inf=False)


def check_topk(results: Sequence[TopKResult], target_lens: Sequence[int], k: int, vocab_size: int,
               source: str) -> None:
    """Raise `TeacherAnswerError` naming `source` and the first bad sentence, if any answer is invalid."""
    _expect_count(len(results), len(target_lens), source)
    for i, (result, length) in enumerate(zip(results, target_lens, strict=True)):
        problem = topk_problem(result, length, k, vocab_size)
        if problem is not None:
            raise TeacherAnswerError(f"{source} answered TopK with an invalid value for sentence {i}: {problem}; "
                                     "not training on it")


def check_scores(results: Sequence[np.ndarray], shapes: Sequence[tuple[int, int]], source: str) -> None:
    """Raise `TeacherAnswerError` naming `source` and the first bad sentence, if any answer is invalid."""
    _expect_count(len(results), len(shapes), source)
    for i, (logq, shape) in enumerate(zip(results, shapes, strict=True)):
        problem = score_problem(logq, shape)
        if problem is not None:
            raise TeacherAnswerError(f"{source} answered Score with an invalid value for sentence {i}: {problem}; "
                                     "not training on it")


def _logprob_problem(values: np.ndarray, what: str, allow_minus_inf: bool) -> str | None:
    if not values.size:
        return None
    if np.isnan(values).any():
        return f"{what} is NaN"
    if np.isposinf(values).any() or float(values.max()) > LOGQ_TOLERANCE:
        return f"{what} is above 0 (max {float(values.max()):.4g}), which no probability has"
    if not allow_minus_inf and np.isneginf(values).any():
        return f"{what} is -inf"
    return None


def _expect_count(got: int, expected: int, source: str) -> None:
    if got != expected:
        raise TeacherAnswerError(f"{source} answered {got} results for {expected} sentences")


def sampled_problem(result: SampledResult, length: int, m: int, vocab_size: int) -> str | None:
    """What is wrong with a sampled answer for a target of `length` positions at m draws, or None."""
    ids, counts = result.ids, result.counts
    if result.m != m or not 1 <= m <= MAX_SAMPLES:
        return f"m = {result.m}, expected {m}"
    if ids.ndim != 1 or counts.shape != ids.shape:
        return f"ids {list(ids.shape)} and counts {list(counts.shape)} are not two 1-D arrays of one size"
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        return f"ids outside the vocabulary [0, {vocab_size})"
    if counts.size and int(counts.min()) < 1:
        return "a count is below 1"
    if int(counts.sum()) != length * m:
        return f"counts sum to {int(counts.sum())}, not {length} positions x m = {m}"
    end = np.cumsum(counts)
    start = end - counts
    if bool((start // m != (end - 1) // m).any()):
        return "counts straddle a position boundary"
    same_position = (start[1:] // m) == (start[:-1] // m)
    if bool((same_position & (ids[1:] <= ids[:-1])).any()):
        return "ids are not ascending within a position"
    return None
