"""What docs/teacher.md claims about draining, abandoned requests and message sizes, on real servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from services.teacher.server import TeacherServer, grpc_options

from .conftest import scrape

# A Generate that keeps the one model thread busy for seconds even on fast cores (12 sentences finished
# in under 0.6 s on a quiet machine, and the tests below rely on it still running after that).
BUSY_SENTENCES = 96
BUSY_BUDGET = 1 << 16  # a request's token budget that admits it


def _generate(sentences: Any, n: int, max_len: int) -> Any:
    src = [sentences[0][i % len(sentences[0])] for i in range(n)]
    return pb.GenerateRequest(sources=[tensors.pack_ids(np.asarray(s)) for s in src], beam_size=4, nbest=1,
                              max_len=max_len)


def _stub(server: TeacherServer, mb: int = 64) -> tuple[grpc.Channel, Any]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}", options=grpc_options(mb * 1024 * 1024))
    return channel, pb_grpc.TeacherStub(channel)


@pytest.mark.slow
def test_health_watchers_see_not_serving_while_in_flight_requests_drain(
        teacher_factory: Callable[..., TeacherServer], reference_teacher_dir: Path, sentences: Any) -> None:
    server = teacher_factory(reference_teacher_dir, threads=1, drain_s=30, max_batch_tokens=BUSY_BUDGET)
    channel, stub = _stub(server)
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(stub.Generate, _generate(sentences, BUSY_SENTENCES, 100), timeout=60)
        time.sleep(0.3)  # the Generate is on the model
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert not in_flight.done()  # still draining when the watcher learnt it
        answer = in_flight.result(timeout=60)
        stopper.join(timeout=60)
    assert len(answer.results) == BUSY_SENTENCES  # the in-flight request was answered in full
    channel.close()


@pytest.mark.slow
def test_a_request_whose_client_gave_up_is_never_computed(teacher_factory: Callable[..., TeacherServer],
                                                          reference_teacher_dir: Path, sentences: Any) -> None:
    server = teacher_factory(reference_teacher_dir, threads=1, max_wait_ms=0.0, max_batch_tokens=BUSY_BUDGET)
    channel, stub = _stub(server)
    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(stub.Generate, _generate(sentences, BUSY_SENTENCES, 100), timeout=60)  # occupies the model
        time.sleep(0.3)
        before = scrape(server).get('kd_teacher_model_sentences_total{op="generate"}', 0.0)
        with pytest.raises(grpc.RpcError) as caught:  # queued behind it; gives up after 0.3 s
            stub.Generate(_generate(sentences, 3, 20), timeout=0.3)
        assert not busy.done(), "the busy request ended before the other one gave up: make it longer"
        busy.result(timeout=60)
    time.sleep(0.5)
    after = scrape(server).get('kd_teacher_model_sentences_total{op="generate"}', 0.0)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert after - before == BUSY_SENTENCES  # the busy request's sentences only: the abandoned 3 were skipped
    channel.close()


def test_messages_between_4_and_64_mib_pass_and_bigger_ones_get_a_clear_status(
        teacher_factory: Callable[..., TeacherServer], micro_checkpoint: Path, sentences: Any) -> None:
    """A teacher with a large token budget (as on a GPU) takes whole-vocabulary Score requests of several
    MiB each way; a request over the 64 MiB message limit is refused with a status that says so."""
    server = teacher_factory(micro_checkpoint, max_batch_tokens=1_000_000)
    src = sentences[0]
    vocab = 8001
    channel, stub = _stub(server, mb=256)

    def score(items: int) -> Any:
        cands = tensors.pack_ids(np.tile(np.arange(vocab), (100, 1)))
        return pb.ScoreRequest(items=[pb.ScoreItem(source=tensors.pack_ids(np.asarray(src[0])),
                                                   target=tensors.pack_ids(np.arange(100)), candidates=cands)
                                      for _ in range(items)])

    medium = score(4)  # 4 x 100 x 8001 uint16 ids: 6.4 MB in, 6.4 MB of float16 scores out
    assert 4 * 2**20 < medium.ByteSize() < 64 * 2**20
    answer = stub.Score(medium, timeout=120)
    assert len(answer.logq) == 4 and answer.ByteSize() > 4 * 2**20
    huge = score(42)  # 67 MB: over the 64 MiB limit
    with pytest.raises(grpc.RpcError) as caught:
        stub.Score(huge, timeout=120)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in caught.value.details()
    assert stub.Info(pb.InfoRequest(), timeout=10).vocab_size == vocab  # still serving
    channel.close()
