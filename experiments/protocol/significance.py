"""Tests for the pooled stage-2 comparisons that sacrebleu does not provide: the exact sign-flip test on
run-level differences, and Holm's correction for testing many rows against one baseline.

The pooled table compares six or seven rows with the same baseline (the control, Word-KD, the run's own
base). Read one at a time, each p-value holds; read as "which rows beat the control", the smallest of six
p-values is small by chance more often than one test's p. Holm's step-down adjustment keeps the chance of
any false "beats" within the level across the family, without assuming the tests are independent.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping


def sign_flip_p(diffs: list[float]) -> float | None:
    """Two-sided p of the mean of paired differences under the null that each difference's sign is a coin
    toss: the share of all 2^n sign patterns whose mean is at least as far from zero. None for no pairs."""
    if not diffs:
        return None
    observed = abs(statistics.mean(diffs)) - 1e-9
    flips = list(itertools.product((1, -1), repeat=len(diffs)))
    return sum(abs(statistics.mean(s * d for s, d in zip(signs, diffs, strict=True))) >= observed
               for signs in flips) / len(flips)


def holm(ps: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm-adjusted p-values of one family of tests, by the same keys; None (nothing tested) stays None and
    does not count towards the family's size. Reject where the adjusted p is below the level."""
    tested = sorted(((p, key) for key, p in ps.items() if p is not None))
    adjusted: dict[str, float | None] = {key: None for key in ps}
    running = 0.0
    for rank, (p, key) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[key] = running
    return adjusted
