"""What a teacher request may ask and what it costs: the input checks refuse bad input with a reason, the
cost rules charge what the docs say, and calls split within a budget."""

from __future__ import annotations

import numpy as np
import pytest

from s2s.teacher.contract import TeacherInputError, TeacherLimitError
from s2s.teacher.limits import (
    TeacherLimits,
    as_ids,
    check_budget,
    check_candidates,
    check_generate,
    check_k,
    check_pairs,
    generate_cost,
    pair_cost,
    score_cost,
    split_by_budget,
)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lim: check_pairs([], [], lim), TeacherInputError, "empty batch"),
    (lambda lim: check_pairs([np.array([1, 0])], [], lim), TeacherInputError, "1 sources but 0 targets"),
    (lambda lim: check_pairs([np.array([1, 0])], [np.array([], dtype=np.int64)], lim), TeacherInputError,
     "target is empty"),
    (lambda lim: check_pairs([np.arange(20)], [np.array([0])], lim), TeacherInputError, "at most 16"),
    (lambda lim: check_pairs([np.array([1, 0])], [np.array([100, 0])], lim), TeacherInputError,
     "id 100 at position 0"),
    (lambda lim: check_k(9, lim), TeacherInputError, "1 <= k <= 8"),
    (lambda lim: check_candidates([np.array([1, 0])], [np.zeros((3, 2), dtype=np.int64)], lim),
     TeacherInputError, "expected [2 target positions"),
    (lambda lim: check_generate(2, 3, 5, lim), TeacherInputError, "nbest = 3"),
    (lambda lim: check_budget(65, lim), TeacherLimitError, "budget of 64"),
    (lambda lim: as_ids(np.array([1.5]), "sentence 0: source"), TeacherInputError, "must be integers"),
])
def test_checks_refuse_bad_input_with_a_reason(call: object, error: type, message: str) -> None:
    limits = TeacherLimits(vocab_size=50, max_source_len=16, max_target_len=16, max_k=8, max_beam=4,
                           max_batch_tokens=64)
    with pytest.raises(error, match=message.replace("[", r"\[")):
        call(limits)  # type: ignore[operator]


def test_split_by_budget_keeps_order_and_isolates_oversized_items() -> None:
    assert split_by_budget([3, 3, 3, 10, 1], 6) == [[0, 1], [2], [3], [4]]
    assert split_by_budget([], 6) == []


def test_cost_rules_charge_tokens_as_documented() -> None:
    src, tgt = np.arange(5), np.arange(7)
    assert pair_cost(src, tgt) == 12
    assert score_cost(src, tgt, 1) == score_cost(src, tgt, 64) == 12  # the first 64 candidates cost like TopK
    assert score_cost(src, tgt, 65) == 5 + 7 * 2
    assert generate_cost(src, beam_size=4, max_len=10) == 4 * (5 + 10)
