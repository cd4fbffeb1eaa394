"""Two teacher processes (one via `python -m services.teacher`, one via `kd teacher serve`): health checks,
failover when a replica is killed mid-run, and a graceful drain on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from services.teacher.launch import CLI_ENTRY, TeacherProcess, free_port
from teacher_client import TeacherClient

# Settings through the environment fallbacks, as a container would pass them.
ENV = {"KD_TEACHER_DEVICE": "cpu", "KD_TEACHER_MAX_WAIT_MS": "2", "KD_TEACHER_THREADS": "1"}


@pytest.fixture(scope="module")
def replicas(micro_checkpoint: Path) -> Iterator[tuple[TeacherProcess, TeacherProcess]]:
    a = TeacherProcess(micro_checkpoint, env=ENV)
    b = TeacherProcess(micro_checkpoint, ["--metrics-port", str(free_port()), "--drain-s", "20"], env=ENV,
                       entry=CLI_ENTRY)
    with ThreadPoolExecutor(2) as pool:
        for started in [pool.submit(a.start), pool.submit(b.start)]:
            started.result()
    yield a, b
    for proc in (a, b):
        proc.stop(signal.SIGKILL, 10)


def _inflight(metrics_url: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("kd_teacher_inflight_requests "):
                return float(line.split()[1])
    return 0.0


def _healthcheck(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.teacher.healthcheck", "--target", target, "--timeout", "2"],
                          capture_output=True, text=True, timeout=60)


def test_healthcheck_exits_zero_only_when_serving(replicas: tuple[TeacherProcess, TeacherProcess]) -> None:
    ok = _healthcheck(replicas[0].target)
    assert ok.returncode == 0 and "SERVING" in ok.stdout
    dead = _healthcheck(f"127.0.0.1:{free_port()}")
    assert dead.returncode == 1 and "unreachable" in dead.stderr


def test_killing_a_replica_mid_run_fails_no_request(replicas: tuple[TeacherProcess, TeacherProcess],
                                                    sentences: Any) -> None:
    a, b = replicas
    src, tgt = sentences
    failures: list[BaseException] = []
    answers: list[Any] = []
    with TeacherClient([a.target, b.target], timeout_s=20, retries=3) as client:
        expected = client.topk(src, tgt, 4)

        def work() -> None:
            for _ in range(12):
                try:
                    answers.append(client.topk(src, tgt, 4))
                except BaseException as exc:  # noqa: BLE001 - the test counts every failure
                    failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + 60
        while len(answers) < 6 and not failures and time.monotonic() < deadline:
            time.sleep(0.01)
        a.send(signal.SIGKILL)
        for th in threads:
            th.join()
        stats = client.stats()
    assert failures == []
    assert len(answers) == 36
    for answer in answers:
        for got, want in zip(answer, expected, strict=True):
            np.testing.assert_array_equal(got.ids, want.ids)
    assert stats["retries"] >= 1 and stats["failovers"] >= 1


def test_sigterm_drains_in_flight_requests_then_exits(replicas: tuple[TeacherProcess, TeacherProcess],
                                                      sentences: Any) -> None:
    b = replicas[1]
    channel = grpc.insecure_channel(b.target)
    stub = pb_grpc.TeacherStub(channel)
    sources = sentences[0][:3]  # beam 16 x (source + 128 new tokens) x 3 stays within the 8192-token budget
    slow = pb.GenerateRequest(sources=[tensors.pack_ids(np.array(s)) for s in sources], beam_size=16, nbest=1,
                              max_len=128)
    metrics_url = f"http://127.0.0.1:{b.args[b.args.index('--metrics-port') + 1]}/metrics"
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(stub.Generate, slow, timeout=60)
        deadline = time.monotonic() + 10
        while _inflight(metrics_url) < 1 and not in_flight.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not in_flight.done(), "the slow request finished before SIGTERM; make it slower"
        b.send(signal.SIGTERM)
        reply = in_flight.result()
    assert len(reply.results) == len(sources)
    assert b.wait(30) == 0
    assert "draining in-flight requests" in b.log_text()
    with pytest.raises(grpc.RpcError) as caught:
        stub.Info(pb.InfoRequest(), timeout=2)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()
