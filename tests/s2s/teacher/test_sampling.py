"""The sampled signal at the source: draws follow q, are fixed by (seed, sentence), and the value checks
refuse every kind of unsound answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2s.teacher.answers import sampled_problem, topk_problem
from s2s.teacher.contract import SampledResult, TeacherInputError, TopKResult
from s2s.teacher.sampling import MAX_SAMPLES, check_samples, counted, draw, positions, sentence_rng

Q = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625, 0.0], dtype=torch.float64)


def test_draws_follow_q_and_never_pick_a_zero_probability_id() -> None:
    logq = Q.log().float().expand(400, 6)  # 400 positions x 255 draws = 102,000 draws of one distribution
    result = draw(logq, MAX_SAMPLES, np.random.default_rng(0))
    freq = np.bincount(result.ids, weights=result.counts, minlength=6) / result.counts.sum()
    n = result.counts.sum()
    se = np.sqrt(Q.numpy() * (1 - Q.numpy()) / n)
    assert (np.abs(freq - Q.numpy()) <= 5 * se + 1e-12).all()
    assert freq[5] == 0


def test_draws_are_fixed_by_seed_and_sentence_and_change_with_either() -> None:
    logq = torch.log_softmax(torch.randn(7, 50, generator=torch.Generator().manual_seed(1)), -1)
    src, tgt = np.array([5, 6, 0]), np.arange(7)

    def run(seed: int, source: np.ndarray) -> SampledResult:
        return draw(logq, 12, sentence_rng(seed, source, tgt))

    a, b = run(0, src), run(0, src)
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.counts, b.counts)
    assert not np.array_equal(run(1, src).ids, a.ids) or not np.array_equal(run(1, src).counts, a.counts)
    assert not np.array_equal(run(0, np.array([5, 7, 0])).ids, a.ids)
    assert sampled_problem(a, 7, 12, 50) is None and a.length == 7


def test_counts_keep_distinct_ids_ascending_per_position_and_positions_follow_from_them() -> None:
    result = counted(np.array([[3, 1, 3, 3], [2, 2, 2, 2], [0, 4, 1, 4]]), 4)
    assert result.ids.tolist() == [1, 3, 2, 0, 1, 4]
    assert result.counts.tolist() == [1, 3, 4, 1, 1, 2]
    assert positions(result.counts, 4).tolist() == [0, 0, 1, 2, 2, 2]


@pytest.mark.parametrize("m", [0, MAX_SAMPLES + 1])
def test_m_out_of_range_is_refused(m: int) -> None:
    with pytest.raises(TeacherInputError, match=r"m = \d+ samples per position is out of range"):
        check_samples(m)


GOOD = SampledResult(np.array([1, 3, 2]), np.array([1, 3, 4]), 4)


@pytest.mark.parametrize(("result", "length", "problem"), [
    (GOOD, 2, None),
    (GOOD, 3, "not 3 positions"),
    (SampledResult(np.array([1, 3, 9]), np.array([1, 3, 4]), 4), 2, "outside the vocabulary"),
    (SampledResult(np.array([3, 1, 2]), np.array([1, 3, 4]), 4), 2, "not ascending"),
    (SampledResult(np.array([1, 3, 2]), np.array([2, 3, 3]), 4), 2, "straddle"),
    (SampledResult(np.array([1, 3, 2, 4]), np.array([1, 3, 4, 0]), 4), 2, "below 1"),
    (SampledResult(np.array([1, 3]), np.array([1, 3, 4]), 4), 2, "not two 1-D arrays"),
])
def test_sampled_answers_are_checked(result: SampledResult, length: int, problem: str | None) -> None:
    found = sampled_problem(result, length, 4, 8)
    assert found is None if problem is None else problem in (found or "")


def _topk(ids: list[list[int]], logq: list[list[float]], rest: list[float]) -> TopKResult:
    return TopKResult(np.array(ids), np.array(logq, dtype=np.float32), np.array(rest, dtype=np.float32))


@pytest.mark.parametrize(("result", "problem"), [
    (_topk([[1, 2]], [[-0.5, -1.5]], [-2.0]), None),
    (_topk([[1, 2]], [[-0.5, -1.5]], [float("-inf")]), None),
    (_topk([[1, 1]], [[-0.5, -1.5]], [-2.0]), "lists an id twice"),
    (_topk([[1, 8]], [[-0.5, -1.5]], [-2.0]), "outside the vocabulary"),
    (_topk([[1, 2]], [[0.5, -1.5]], [-2.0]), "log q is above 0"),
    (_topk([[1, 2]], [[float("nan"), -1.5]], [-2.0]), "log q is NaN"),
    (_topk([[1, 2]], [[-0.5, -1.5]], [float("nan")]), "rest mass's log is NaN"),
    (_topk([[1, 2, 3]], [[-0.5, -1.5, -2]], [-2.0]), "do not answer"),
])
def test_topk_answers_are_checked(result: TopKResult, problem: str | None) -> None:
    found = topk_problem(result, 1, 2, 8)
    assert found is None if problem is None else problem in (found or "")
