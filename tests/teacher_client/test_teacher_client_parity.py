"""`InProcessTeacher` and `TeacherClient` are interchangeable: same results (to float16), errors and stats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from s2s.local_teacher import InProcessTeacher
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient, TeacherInputError


@pytest.fixture(scope="module")
def both(teacher: TeacherServer, micro_checkpoint: Path) -> Any:
    with TeacherClient(f"127.0.0.1:{teacher.port}") as remote, \
            InProcessTeacher(micro_checkpoint, device="cpu") as local:
        yield remote, local


def test_same_info_apart_from_the_servers_budget(both: Any) -> None:
    remote, local = both
    a, b = remote.info(), local.info()
    assert (a.model_id, a.vocab_fingerprint, a.pad_id, a.eos_id, a.max_source_len) == (
        b.model_id, b.vocab_fingerprint, b.pad_id, b.eos_id, b.max_source_len)


def test_same_topk_score_and_generate(both: Any, pairs: Any) -> None:
    remote, local = both
    src, tgt = pairs
    for r, here in zip(remote.topk(src, tgt, 6), local.topk(src, tgt, 6), strict=True):
        np.testing.assert_array_equal(r.ids, here.ids)
        np.testing.assert_allclose(r.logq, here.logq, atol=1e-2)
        np.testing.assert_allclose(r.rest_logmass, here.rest_logmass, rtol=1e-3, atol=1e-4)
    cands = [np.arange(len(t) * 3).reshape(len(t), 3) for t in tgt]
    for r, here in zip(remote.score(src, tgt, cands), local.score(src, tgt, cands), strict=True):
        np.testing.assert_allclose(r, here, atol=1e-2)
    remote_hyps, local_hyps = remote.generate(src[:2], 2, 2, 6), local.generate(src[:2], 2, 2, 6)
    assert [[h.ids for h in n] for n in remote_hyps] == [[h.ids for h in n] for n in local_hyps]


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: t.topk([[5, 0]], [[]], 4), "sentence 0: target is empty; every sequence has at least its final </s>"),
    (lambda t: t.score([[5, 0]], [[6, 0]], [np.zeros((2, 3))]),
     "sentence 0: candidates: token ids must be integers, got float64"),
    (lambda t: t.generate([[5, 0]], 2, 3, 5), "nbest = 3 is out of range 1..beam_size (2)"),
])
def test_same_error_for_the_same_bad_input(both: Any, call: Any, message: str) -> None:
    for teacher in both:
        with pytest.raises(TeacherInputError) as caught:
            call(teacher)
        assert str(caught.value) == message


def test_same_stats_keys(both: Any) -> None:
    remote, local = both
    assert set(remote.stats()) == set(local.stats())
