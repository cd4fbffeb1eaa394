"""The Redis cache: repeated requests never reach the model; Redis failing never breaks an answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis

from s2s.decoding import Hypothesis
from s2s.teacher.contract import TopKResult
from services.teacher import cache_codec as codec
from services.teacher.launch import RedisProcess
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient


@pytest.fixture()
def client(teacher: TeacherServer) -> Any:
    with TeacherClient(f"127.0.0.1:{teacher.port}", timeout_s=30) as c:
        yield c


def _same(a: list[TopKResult], b: list[TopKResult]) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.ids, y.ids)
        np.testing.assert_array_equal(x.logq, y.logq)
        np.testing.assert_array_equal(x.rest_logmass, y.rest_logmass)


def test_second_identical_request_is_a_cache_hit_that_skips_the_model(client: TeacherClient, sentences: Any,
                                                                       metric: Callable[..., float]) -> None:
    src, tgt = sentences
    first = client.topk(src, tgt, 8)
    assert client.stats()["cache_misses"] == len(src)
    computed = metric("kd_teacher_model_sentences_total", op="topk")
    second = client.topk(src, tgt, 8)
    assert client.stats()["cache_hits"] == len(src)
    assert metric("kd_teacher_model_sentences_total", op="topk") == computed
    assert metric("kd_teacher_cache_hits_total", op="topk") >= len(src)
    _same(first, second)  # bit-identical: the cache holds exactly the wire precision


def test_generate_is_cached_per_sentence(client: TeacherClient, sentences: Any) -> None:
    src = sentences[0]
    first = client.generate(src[:3], beam_size=2, nbest=2, max_len=6)
    before = client.stats()
    again = client.generate(src[:4], beam_size=2, nbest=2, max_len=6)
    after = client.stats()
    assert (after["cache_hits"] - before["cache_hits"], after["cache_misses"] - before["cache_misses"]) == (3, 1)
    assert again[:3] == first


def test_keys_are_versioned_and_values_compact(client: TeacherClient, teacher: TeacherServer, sentences: Any,
                                               redis_server: RedisProcess) -> None:
    src, tgt = sentences
    client.topk(src[:1], tgt[:1], 5)
    info = teacher.engine.info()
    key = codec.cache_key(info.teacher_id, info.teacher.vocab_fingerprint, "topk", "k5",
                          np.array(src[0]), np.array(tgt[0]))
    digest = info.teacher_id.split("-")[-1]
    assert key.startswith(f"kd:v1:micro-{digest}:{info.teacher.vocab_fingerprint[:16]}:topk:k5:")
    conn = redis.Redis(port=redis_server.port)
    value = conn.get(key)
    assert value is not None
    t = len(tgt[0])
    assert len(value) == 7 + t * 5 * 2 + t * 5 * 2 + t * 2
    assert 0 < conn.ttl(key) <= teacher.config.cache_ttl_s


def test_damaged_or_misfit_cached_values_are_recomputed_and_counted(
        client: TeacherClient, teacher: TeacherServer, sentences: Any, redis_server: RedisProcess,
        metric: Callable[..., float]) -> None:
    """Garbage, a value of another shape and ids outside the vocabulary under real keys: each is a miss that
    the model recomputes (and that overwrites the bad value), never an answer."""
    src, tgt = sentences
    expected = client.topk(src[:3], tgt[:3], 4)
    info = teacher.engine.info()
    conn = redis.Redis(port=redis_server.port)
    keys = [codec.cache_key(info.teacher_id, info.teacher.vocab_fingerprint, "topk", "k4", np.array(s), np.array(t))
            for s, t in zip(src[:3], tgt[:3], strict=True)]
    vocab = info.teacher.vocab_size
    wrong_shape = codec.encode_topk(TopKResult(np.zeros((2, 4), np.int64), np.zeros((2, 4), np.float32),
                                               np.zeros(2, np.float32)), vocab)
    t = len(tgt[2])
    out_of_range = codec.encode_topk(TopKResult(np.full((t, 4), vocab - 1, np.int64), np.zeros((t, 4), np.float32),
                                                np.zeros(t, np.float32)), 70_000)  # int32 ids: room for a bad one
    out_of_range = out_of_range[:7] + np.full((t, 4), vocab + 5, "<i4").tobytes() + out_of_range[7 + t * 16:]
    for key, value in zip(keys, (b"garbage", wrong_shape, out_of_range), strict=True):
        conn.set(key, value)
    bad_before = metric("kd_teacher_cache_bad_values_total", op="topk")
    _same(client.topk(src[:3], tgt[:3], 4), expected)
    assert metric("kd_teacher_cache_bad_values_total", op="topk") - bad_before == 3
    assert all(codec.topk_fits(codec.decode_topk(conn.get(k)), len(x), 4, vocab)  # type: ignore[arg-type]
               for k, x in zip(keys, tgt[:3], strict=True))


def _poisoned(good: TopKResult, kind: str) -> TopKResult:
    """A copy of a real answer with one impossible value planted, as a local user with cache access could."""
    ids, logq, rest = good.ids.copy(), good.logq.copy(), good.rest_logmass.copy()
    if kind == "nan":
        logq[1, 0] = np.nan
    elif kind == "inf":
        logq[0, 2] = np.inf
    elif kind == "positive":
        logq[0, 0] = 0.5
    elif kind == "rest_nan":
        rest[2] = np.nan
    elif kind == "minus_inf":
        logq[0, 3] = -np.inf
    elif kind == "duplicate":
        ids[1, 1] = ids[1, 0]
    return TopKResult(ids, logq, rest)


POISONS = ("nan", "inf", "positive", "rest_nan", "minus_inf", "duplicate")


def test_poisoned_cached_values_are_misses_counted_and_replaced(
        client: TeacherClient, teacher: TeacherServer, sentences: Any, redis_server: RedisProcess,
        metric: Callable[..., float]) -> None:
    """NaN, +inf, -inf, log q > 0, a NaN rest mass, a repeated id: values that decode, with the right shape
    and ids in range, under the real keys. None is answered; each is recomputed, counted and overwritten."""
    src, tgt = sentences[0][3:9], sentences[1][3:9]
    expected = client.topk(src, tgt, 4)
    info = teacher.engine.info()
    vocab = info.teacher.vocab_size
    conn = redis.Redis(port=redis_server.port)
    keys = [codec.cache_key(info.teacher_id, info.teacher.vocab_fingerprint, "topk", "k4", np.array(s), np.array(t))
            for s, t in zip(src, tgt, strict=True)]
    for key, good, kind in zip(keys, expected, POISONS, strict=True):
        poisoned = codec.encode_topk(_poisoned(good, kind), vocab)
        assert codec.decode_topk(poisoned).ids.shape == good.ids.shape  # it decodes and has the right shape
        conn.set(key, poisoned)
    bad_before, misses_before = (metric("kd_teacher_cache_bad_values_total", op="topk"),
                                 metric("kd_teacher_cache_misses_total", op="topk"))
    answers = client.topk(src, tgt, 4)
    _same(answers, expected)
    assert all(np.isfinite(a.logq).all() and (a.logq <= 0).all() for a in answers)
    assert metric("kd_teacher_cache_bad_values_total", op="topk") - bad_before == len(POISONS)
    assert metric("kd_teacher_cache_misses_total", op="topk") - misses_before == len(POISONS)
    assert all(codec.topk_fits(codec.decode_topk(conn.get(k)), len(x), 4, vocab)  # type: ignore[arg-type]
               for k, x in zip(keys, tgt, strict=True))


def test_codec_round_trips_at_wire_precision() -> None:
    rng = np.random.default_rng(1)
    result = TopKResult(rng.integers(0, 8000, (4, 3)), rng.normal(-5, 2, (4, 3)).astype(np.float32),
                        rng.normal(-1, 1, 4).astype(np.float32))
    back = codec.decode_topk(codec.encode_topk(result, 8001))
    np.testing.assert_array_equal(back.ids, result.ids)
    np.testing.assert_array_equal(back.logq, result.logq.astype(np.float16).astype(np.float32))
    hyps = [Hypothesis([5, 6, 0], -1.25), Hypothesis([70000, 0], -2.5)]
    assert codec.decode_nbest(codec.encode_nbest(hyps, 100000)) == hyps
    with pytest.raises(codec.CacheValueError):
        codec.decode_topk(b"T1" + bytes(9))


def test_redis_outage_keeps_answers_correct_and_the_cache_comes_back(
        client: TeacherClient, teacher: TeacherServer, sentences: Any, redis_server: RedisProcess,
        metric: Callable[..., float], caplog: pytest.LogCaptureFixture) -> None:
    src, tgt = sentences
    caplog.set_level(logging.INFO, logger="services.teacher.cache")
    expected = client.topk(src, tgt, 6)
    errors_before = metric("kd_teacher_redis_errors_total")
    redis_server.stop()
    for _ in range(3):
        _same(client.topk(src, tgt, 6), expected)
        time.sleep(0.35)  # past the retry interval: every request tries Redis again and fails again
    assert metric("kd_teacher_redis_errors_total") >= errors_before + 2
    assert metric("kd_teacher_redis_up") == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "answering from the model" in warnings[0].getMessage()

    revived = RedisProcess(port=redis_server.port).start()
    try:
        time.sleep(0.35)
        hits = client.stats()["cache_hits"]
        _same(client.topk(src, tgt, 6), expected)  # refills the (empty) new Redis
        _same(client.topk(src, tgt, 6), expected)
        assert client.stats()["cache_hits"] - hits == len(src)
        assert metric("kd_teacher_redis_up") == 1
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        revived.stop()
