"""What counts as a valid teacher answer (`s2s.teacher.answers`): each impossible value is named."""

from __future__ import annotations

import numpy as np
import pytest

from s2s.teacher.answers import TeacherAnswerError, check_scores, check_topk, score_problem, topk_problem
from s2s.teacher.contract import TopKResult


def _good(t: int = 3, k: int = 4) -> TopKResult:
    probs = np.array([0.5, 0.2, 0.1, 0.05][:k], dtype=np.float32)
    ids = np.tile(np.arange(10, 10 + k), (t, 1))
    return TopKResult(ids, np.tile(np.log(probs), (t, 1)), np.full(t, np.log(1 - probs.sum()), np.float32))


def _with(field: str, index: tuple[int, ...], value: float) -> TopKResult:
    r = _good()
    arrays = {"ids": r.ids.copy(), "logq": r.logq.copy(), "rest_logmass": r.rest_logmass.copy()}
    arrays[field][index] = value
    return TopKResult(**arrays)


@pytest.mark.parametrize(("result", "problem"), [
    (_with("logq", (1, 2), np.nan), "log q is NaN"),
    (_with("logq", (0, 0), np.inf), "log q is above 0"),
    (_with("logq", (0, 0), 0.3), "log q is above 0 (max 0.3)"),
    (_with("logq", (2, 1), -np.inf), "log q is -inf"),
    (_with("rest_logmass", (1,), np.nan), "the rest mass's log is NaN"),
    (_with("rest_logmass", (1,), 0.2), "the rest mass's log is above 0"),
    (_with("ids", (2, 3), 10), "position 2 lists an id twice"),
    (_with("ids", (0, 0), 100), "an id outside the vocabulary [0, 100)"),
    (_with("ids", (0, 0), -1), "an id outside the vocabulary"),
    (TopKResult(np.zeros((2, 4), np.int64), np.zeros((2, 4), np.float32), np.zeros(2, np.float32)),
     "do not answer [3 positions, k = 4]"),
])
def test_each_impossible_topk_value_is_named(result: TopKResult, problem: str) -> None:
    found = topk_problem(result, 3, 4, 100)
    assert found is not None and problem in found


def test_valid_answers_pass_including_float16_rounding_and_a_full_vocabulary() -> None:
    assert topk_problem(_good(), 3, 4, 100) is None
    rounded = _with("logq", (0, 0), 0.0004)  # a top-1 of probability ~1 rounded on the wire
    assert topk_problem(rounded, 3, 4, 100) is None
    full = _with("rest_logmass", (0,), -np.inf)  # k covers the whole vocabulary: no rest mass
    assert topk_problem(full, 3, 4, 100) is None
    assert score_problem(np.log(np.full((3, 2), 0.1, np.float32)), (3, 2)) is None


def test_score_answers_are_checked_by_shape_and_value() -> None:
    bad = np.full((3, 2), -1.0, np.float32)
    bad[2, 1] = np.nan
    assert score_problem(bad, (3, 2)) == "log q is NaN"
    assert score_problem(np.zeros((3, 3), np.float32), (3, 2)) is not None
    with pytest.raises(TeacherAnswerError, match="teacher x answered Score with an invalid value for sentence 1"):
        check_scores([np.zeros((3, 2), np.float32), bad], [(3, 2), (3, 2)], "teacher x")


def test_check_topk_names_the_source_and_the_sentence() -> None:
    with pytest.raises(TeacherAnswerError, match=r"cache answered TopK with an invalid value for sentence 1: "
                                                 r"position 2 lists an id twice; not training on it"):
        check_topk([_good(), _with("ids", (2, 3), 10)], [3, 3], 4, 100, "cache")
    with pytest.raises(TeacherAnswerError, match="answered 1 results for 2 sentences"):
        check_topk([_good()], [3, 3], 4, 100, "cache")
