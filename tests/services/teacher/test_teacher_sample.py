"""The `Sample` RPC: m draws from q per position as ids and counts, the same on every path (in-process, over
gRPC, from the cache), within 3 bytes a distinct id on the wire, and refused with a clear message when m is
out of range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import redis

from kdproto import teacher_pb2 as pb
from kdproto import tensors
from s2s.local_teacher import InProcessTeacher
from s2s.teacher.answers import sampled_problem
from s2s.teacher.contract import SampledResult
from services.teacher import cache_codec as codec
from services.teacher import sample_codec
from services.teacher.launch import RedisProcess
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient, TeacherInputError


@pytest.fixture()
def client(teacher: TeacherServer) -> Any:
    with TeacherClient(f"127.0.0.1:{teacher.port}", timeout_s=30) as c:
        yield c


def _same(a: list[SampledResult], b: list[SampledResult]) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.ids, y.ids)
        np.testing.assert_array_equal(x.counts, y.counts)


def test_sample_over_grpc_equals_in_process_and_is_cached(client: TeacherClient, sentences: Any,
                                                          micro_checkpoint: Path, metric: Callable[..., float]) -> None:
    src, tgt = sentences
    remote = client.sample(src, tgt, 12, seed=5)
    with InProcessTeacher(micro_checkpoint, device="cpu") as local:
        _same(remote, local.sample(src, tgt, 12, seed=5))
    for result, target in zip(remote, tgt, strict=True):
        assert sampled_problem(result, len(target), 12, client.info().vocab_size) is None
    computed = metric("kd_teacher_model_sentences_total", op="sample")
    _same(client.sample(src, tgt, 12, seed=5), remote)
    assert metric("kd_teacher_model_sentences_total", op="sample") == computed  # all from the cache
    other = client.sample(src[:1], tgt[:1], 12, seed=6)  # another seed: other draws, not a cache hit
    assert not (np.array_equal(other[0].ids, remote[0].ids) and np.array_equal(other[0].counts, remote[0].counts))


def test_the_cached_value_is_three_bytes_a_distinct_id(client: TeacherClient, teacher: TeacherServer,
                                                       sentences: Any, redis_server: RedisProcess) -> None:
    src, tgt = sentences
    [result] = client.sample(src[:1], tgt[:1], 8, seed=0)
    info = teacher.engine.info()
    key = codec.cache_key(info.teacher_id, info.teacher.vocab_fingerprint, "sample", "m8s0", np.array(src[0]),
                          np.array(tgt[0]))
    value = redis.Redis(port=redis_server.port).get(key)
    assert value is not None and len(value) == 2 + 8 + 3 * len(result.ids)


def test_a_damaged_cached_sample_is_recomputed(client: TeacherClient, teacher: TeacherServer, sentences: Any,
                                               redis_server: RedisProcess, metric: Callable[..., float]) -> None:
    src, tgt = sentences
    expected = client.sample(src[:2], tgt[:2], 4, seed=1)
    info = teacher.engine.info()
    conn = redis.Redis(port=redis_server.port)
    keys = [codec.cache_key(info.teacher_id, info.teacher.vocab_fingerprint, "sample", "m4s1", np.array(s),
                            np.array(t)) for s, t in zip(src[:2], tgt[:2], strict=True)]
    short = SampledResult(np.array([3]), np.array([4]), 4)  # one position's draws for a longer target
    conn.set(keys[0], b"garbage")
    conn.set(keys[1], sample_codec.encode_sampled(short, info.teacher.vocab_size))
    before = metric("kd_teacher_cache_bad_values_total", op="sample")
    _same(client.sample(src[:2], tgt[:2], 4, seed=1), expected)
    assert metric("kd_teacher_cache_bad_values_total", op="sample") - before == 2


def test_the_wire_carries_uint16_ids_and_uint8_counts(stub: Any, sentences: Any) -> None:
    src, tgt = sentences
    request = pb.SampleRequest(sentences=[pb.SentencePair(source=tensors.pack_ids(np.array(src[0])),
                                                          target=tensors.pack_ids(np.array(tgt[0])))], m=12)
    row = stub.Sample(request).rows[0]
    assert (row.ids.dtype, row.counts.dtype) == (pb.DTYPE_UINT16, pb.DTYPE_UINT8)
    assert len(row.ids.data) + len(row.counts.data) == 3 * len(tensors.unpack_counts(row.counts, "counts"))
    assert int(tensors.unpack_counts(row.counts, "counts").sum()) == 12 * len(tgt[0])


@pytest.mark.parametrize("m", [0, 256])
def test_m_out_of_range_is_invalid_argument(stub: Any, client: TeacherClient, sentences: Any, m: int) -> None:
    src, tgt = sentences
    request = pb.SampleRequest(sentences=[pb.SentencePair(source=tensors.pack_ids(np.array(src[0])),
                                                          target=tensors.pack_ids(np.array(tgt[0])))], m=m)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Sample(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"m = {m} samples per position is out of range" in (caught.value.details() or "")
    with pytest.raises(TeacherInputError, match="out of range"):
        client.sample(src[:1], tgt[:1], m)
