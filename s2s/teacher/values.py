"""Checks of teacher answers read back from somewhere that may be damaged or stale (a cache, a store, a peer).

Each check returns what is wrong (None when the answer is sound), and the caller decides what that means:
the teacher's cache recomputes, the store names the damaged shard, the client refuses the reply. A sound
TopK answer has the request's shape, distinct in-range ids per position, finite log q <= 0 and a rest mass
log <= 0 (or -inf); a sound sampled answer has in-range ids, ascending within a position, counts >= 1 that
sum to m at every one of the target's positions.
"""

from __future__ import annotations

import numpy as np

from s2s.teacher.contract import SampledResult, TopKResult
from s2s.teacher.sampling import MAX_SAMPLES


def topk_problem(result: TopKResult, length: int, k: int, vocab_size: int) -> str | None:
    """What is wrong with a TopK answer for a target of `length` positions at width k, or None."""
    ids, logq, rest = result.ids, result.logq, result.rest_logmass
    if ids.shape != (length, k) or logq.shape != (length, k) or rest.shape != (length,):
        return (f"shapes ids {list(ids.shape)}, logq {list(logq.shape)}, rest {list(rest.shape)} do not answer "
                f"{length} positions at k = {k}")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        return f"ids outside the vocabulary [0, {vocab_size})"
    if k > 1 and ids.size and bool((np.diff(np.sort(ids, axis=1), axis=1) == 0).any()):
        return "an id repeats within a position"
    if not bool(np.isfinite(logq).all()) or bool((logq > 0).any()):
        return "log q is not finite and <= 0 everywhere"
    if bool(np.isnan(rest).any()) or bool((rest > 0).any()):
        return "the rest mass's log is NaN or > 0"
    return None


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
