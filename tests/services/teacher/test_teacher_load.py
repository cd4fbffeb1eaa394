"""Load shedding: a full queue or RPC limit answers RESOURCE_EXHAUSTED at once with a retry hint, the
admitted requests are answered, and Score's candidate width counts against the token budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from s2s.teacher.limits import score_cost
from services.teacher.server import TeacherServer, grpc_options
from teacher_client import TeacherClient, TeacherLimitError


def _topk_request(sentences: Any, copies: int) -> Any:
    src, tgt = sentences
    pairs = [pb.SentencePair(source=tensors.pack_ids(np.asarray(s)), target=tensors.pack_ids(np.asarray(t)))
             for s, t in zip(src * copies, tgt * copies, strict=True)]
    return pb.TopKRequest(sentences=pairs, k=8)


def _call(stub: Any, request: Any) -> tuple[grpc.StatusCode, float, dict[str, str]]:
    start = time.monotonic()
    try:
        stub.TopK(request, timeout=60)
        return grpc.StatusCode.OK, time.monotonic() - start, {}
    except grpc.RpcError as exc:
        return exc.code(), time.monotonic() - start, dict(exc.trailing_metadata() or ())


@pytest.fixture(scope="module")
def busy_teacher(teacher_factory: Callable[..., TeacherServer], reference_teacher_dir: Path) -> TeacherServer:
    """The reference teacher on one thread with a small queue (two batches' worth of tokens)."""
    return teacher_factory(reference_teacher_dir, threads=1, max_batch_tokens=1024, max_queue_tokens=2048,
                           max_concurrent_rpcs=24, max_wait_ms=1.0)


@pytest.mark.slow
def test_a_flood_is_shed_at_once_while_admitted_requests_are_answered(busy_teacher: TeacherServer,
                                                                      sentences: Any) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{busy_teacher.port}", options=grpc_options(64 * 1024 * 1024))
    stub = pb_grpc.TeacherStub(channel)
    request = _topk_request(sentences, 1)  # twelve verses, several hundred tokens
    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(lambda _: _call(stub, request), range(40)))
    codes = [code for code, _, _ in outcomes]
    shed = [(seconds, meta) for code, seconds, meta in outcomes if code == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert codes.count(grpc.StatusCode.OK) >= 2 and len(shed) >= 10, codes
    assert grpc.StatusCode.DEADLINE_EXCEEDED not in codes and set(codes) <= {grpc.StatusCode.OK,
                                                                              grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert max(seconds for seconds, _ in shed) < 2.0  # refused at once, not after waiting
    hinted = [int(meta["retry-after-ms"]) for _, meta in shed if "retry-after-ms" in meta]
    assert hinted and all(h >= 1 for h in hinted)
    assert _call(stub, request)[0] == grpc.StatusCode.OK  # still serving afterwards
    channel.close()


@pytest.mark.slow
def test_clients_ride_through_overload_by_following_the_hint(busy_teacher: TeacherServer, sentences: Any) -> None:
    src, tgt = sentences
    with TeacherClient(f"127.0.0.1:{busy_teacher.port}", timeout_s=60) as client:
        expected = client.topk(src, tgt, 8)
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: client.topk(src, tgt, 8), range(16)))
        stats = client.stats()
    assert stats["overloads"] >= 1 and stats["errors"] == 0
    for answer in answers:
        for got, want in zip(answer, expected, strict=True):
            np.testing.assert_array_equal(got.ids, want.ids)


def test_score_width_counts_against_the_budget(busy_teacher: TeacherServer, sentences: Any) -> None:
    src, tgt = sentences
    vocab = 8001
    wide = [np.tile(np.arange(vocab), (len(t), 1)) for t in tgt[:1]]  # every id at every position
    cost = score_cost(np.asarray(src[0]), np.asarray(tgt[0]), vocab)
    assert cost == len(src[0]) + len(tgt[0]) * 126 and cost > 1024
    with TeacherClient(f"127.0.0.1:{busy_teacher.port}", timeout_s=60) as client:
        with pytest.raises(TeacherLimitError, match="over this teacher's budget of 1024"):
            client.score(src[:1], tgt[:1], wide)
        narrow = client.score(src[:4], tgt[:4], [np.tile(np.arange(8), (len(t), 1)) for t in tgt[:4]])
    assert [a.shape for a in narrow] == [(len(t), 8) for t in tgt[:4]]
