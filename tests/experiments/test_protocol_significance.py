"""The pooled table's own tests: the exact sign-flip test and Holm's step-down correction."""

from __future__ import annotations

import random

from experiments.protocol.significance import holm, sign_flip_p


def test_the_sign_flip_test_against_closed_form_counts() -> None:
    assert sign_flip_p([0.3, 0.1, 0.2]) == 2 / 8  # only all-plus and all-minus are as extreme
    assert sign_flip_p([0.4] * 6) == 2 / 64
    assert sign_flip_p([1.0, -1.0]) == 1.0  # mean 0: every pattern is as extreme
    assert sign_flip_p([1.0, 1.0, -0.5]) == 4 / 8  # |mean| >= 0.5 for +++, ++-, --+, ---
    assert sign_flip_p([]) is None


def test_holm_against_the_step_down_worked_by_hand() -> None:
    # sorted 0.01, 0.02, 0.03, 0.04 with m = 4: 0.04, 0.06, 0.06 (kept monotone), 0.06 (monotone over 0.04)
    adjusted = holm({"a": 0.03, "b": 0.01, "c": 0.04, "d": 0.02})
    assert adjusted == {"a": 0.06, "b": 0.04, "c": 0.06, "d": 0.06}
    assert holm({"a": 0.3, "b": 0.6}) == {"a": 0.6, "b": 0.6}  # capped at 1 and kept monotone
    assert holm({"only": 0.02}) == {"only": 0.02}  # a family of one is not adjusted


def test_untested_entries_stay_none_and_do_not_count_towards_the_family() -> None:
    assert holm({"a": 0.01, "b": None, "c": 0.04}) == {"a": 0.02, "b": None, "c": 0.04}
    assert holm({}) == {}


def test_holm_never_lowers_a_p_value_nor_reorders_them() -> None:
    rng = random.Random(0)
    for _ in range(200):
        ps = {str(i): rng.random() for i in range(rng.randint(1, 8))}
        adjusted = holm(ps)
        assert all(ps[k] <= adjusted[k] <= 1.0 for k in ps)  # type: ignore[operator]
        order = sorted(ps, key=ps.__getitem__)
        assert all(adjusted[a] <= adjusted[b] for a, b in zip(order, order[1:], strict=False))  # type: ignore[operator]
