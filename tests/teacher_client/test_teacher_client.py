"""TeacherClient against real teacher servers: endpoints, Info checks, splitting, async, failover, errors."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from s2s.errors import KDError, VocabularyMismatchError
from s2s.tokenizer import Tokenizer
from services.teacher.launch import free_port
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient, TeacherError, TeacherInputError, TeacherLimitError
from teacher_client.endpoints import parse_endpoints


def _target(server: TeacherServer) -> str:
    return f"127.0.0.1:{server.port}"


def test_endpoints_parse_from_strings_and_lists() -> None:
    assert parse_endpoints("a:1, b:2,a:1") == ["a:1", "b:2"]
    assert parse_endpoints(["a:1,b:2", "c:3"]) == ["a:1", "b:2", "c:3"]
    with pytest.raises(KDError, match="no teacher endpoints"):
        parse_endpoints(" , ")


def test_check_compatible_names_both_fingerprints(teacher: TeacherServer, tokenizer: Tokenizer) -> None:
    with TeacherClient(_target(teacher)) as client:
        assert client.check_compatible(tokenizer.fingerprint).vocab_fingerprint == tokenizer.fingerprint
        with pytest.raises(VocabularyMismatchError) as caught:
            client.check_compatible("f" * 64)
    assert "f" * 16 in str(caught.value) and tokenizer.fingerprint[:16] in str(caught.value)


def test_a_replica_with_another_vocabulary_is_refused_before_any_work(teacher: TeacherServer,
                                                                      other_vocab_teacher: TeacherServer,
                                                                      tokenizer: Tokenizer, pairs: Any) -> None:
    with TeacherClient([_target(teacher), _target(other_vocab_teacher)]) as client:
        client.check_compatible(tokenizer.fingerprint)
        with pytest.raises(VocabularyMismatchError, match=f"replica {_target(other_vocab_teacher)}"):
            for _ in range(2):  # round-robin reaches the second replica on one of the two calls
                client.topk(pairs[0], pairs[1], 4)


def test_large_batches_are_split_within_the_token_budget_and_kept_in_order(teacher: TeacherServer,
                                                                           pairs: Any) -> None:
    src, tgt = pairs
    with TeacherClient(_target(teacher)) as client:
        whole = client.topk(src, tgt, 4)
        rpcs = client.stats()["rpcs"]
        one_by_one = [client.topk([s], [t], 4)[0] for s, t in zip(src, tgt, strict=True)]
    assert rpcs > 1  # 128-token budget: the five sentences need several requests
    for a, b in zip(whole, one_by_one, strict=True):
        np.testing.assert_array_equal(a.ids, b.ids)
        assert a.ids.shape[0] == b.logq.shape[0]
    assert [r.ids.shape[0] for r in whole] == [len(t) for t in tgt]


def test_async_calls_return_futures_with_the_same_answers(teacher: TeacherServer, pairs: Any) -> None:
    src, tgt = pairs
    with TeacherClient(_target(teacher)) as client:
        top_f, hyps_f = client.topk_async(src, tgt, 3), client.generate_async(src[:2], 2, 1, 5)
        scores_f = client.score_async(src[:1], tgt[:1], [np.zeros((len(tgt[0]), 2), dtype=np.int64)])
        top, hyps, scores = top_f.result(30), hyps_f.result(30), scores_f.result(30)
        np.testing.assert_array_equal(top[0].ids, client.topk(src, tgt, 3)[0].ids)
        assert hyps == client.generate(src[:2], 2, 1, 5)
        assert scores[0].shape == (len(tgt[0]), 2)


def test_a_dead_endpoint_fails_over_to_a_live_one(teacher: TeacherServer, pairs: Any) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with TeacherClient([dead, _target(teacher)], timeout_s=5, retries=2) as client:
        for _ in range(4):
            assert len(client.topk(pairs[0], pairs[1], 2)) == len(pairs[0])
        stats = client.stats()
    assert stats["errors"] == 0 and stats["retries"] >= 1 and stats["failovers"] >= 1


def test_no_live_endpoint_is_an_unavailable_error_once_the_retry_budget_is_spent() -> None:
    with TeacherClient([f"127.0.0.1:{free_port()}"], timeout_s=2, retries=2, backoff_s=0.01,
                       retry_budget_s=3) as client:
        start = time.monotonic()
        with pytest.raises(TeacherError, match=r"no teacher replica answered for \d+ s .*retry budget 3 s") as caught:
            client.info()
        elapsed = time.monotonic() - start
        assert caught.value.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") and 3 <= elapsed < 10
        assert client.stats()["retries"] >= 2


def test_bad_input_is_raised_with_the_servers_message_and_not_retried(teacher: TeacherServer, pairs: Any) -> None:
    src, tgt = pairs
    with TeacherClient(_target(teacher)) as client:
        with pytest.raises(TeacherInputError, match="k = 17 is out of range"):
            client.topk(src, tgt, 17)
        with pytest.raises(TeacherInputError, match="ragged batch: 5 sources but 4 targets"):
            client.topk(src, tgt[:4], 4)
        with pytest.raises(TeacherInputError, match="id 9000"):
            client.topk([[9000, 0]], [[5, 0]], 4)
        with pytest.raises(TeacherLimitError, match="over this teacher's budget of 128"):
            client.generate(src[:1], beam_size=4, nbest=1, max_len=100)  # one sentence alone is over budget
        stats = client.stats()
    assert stats["retries"] == 0 and stats["errors"] == 4


def test_an_expired_deadline_is_a_teacher_error(teacher: TeacherServer, pairs: Any) -> None:
    short = [pairs[0][1][:20]]
    with TeacherClient(_target(teacher), timeout_s=30, retries=0, retry_budget_s=0) as client:
        client.info()
        client.timeout_s = 0.05  # far too short for 100 greedy steps
        with pytest.raises(TeacherError) as caught:
            client.generate(short, beam_size=1, nbest=1, max_len=100)
    assert caught.value.code == "DEADLINE_EXCEEDED"
