"""Dynamic batching: merging by operation and token budget, the off switch, failure isolation, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Any

import pytest

from s2s.teacher.contract import TeacherUnavailableError
from services.teacher.batcher import DynamicBatcher
from services.teacher.metrics import TeacherMetrics


class Recorder:
    """A stand-in model run: records each batch; the first run blocks until released, so that the jobs
    submitted meanwhile queue up deterministically."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, op: str, params: Hashable, inputs: list[Any]) -> list[Any]:
        self.calls.append((op, list(inputs)))
        if len(self.calls) == 1:
            self.started.set()
            self.release.wait(5)
        if "bad" in inputs:
            raise ValueError("this input breaks the model")
        return [f"{op}:{x}" for x in inputs]


def _batcher(run: Recorder, enabled: bool = True, budget: int = 100, wait_s: float = 0.05) -> DynamicBatcher:
    return DynamicBatcher(run, TeacherMetrics(), max_batch_tokens=budget, max_wait_s=wait_s, enabled=enabled)


def _queue_behind_a_running_job(run: Recorder, batcher: DynamicBatcher, jobs: list[tuple[str, list[str], int]]):
    first = batcher.submit("topk", 8, ["a"], 4)
    assert run.started.wait(5)
    futures = [batcher.submit(op, 8, inputs, tokens) for op, inputs, tokens in jobs]
    run.release.set()
    return [first, *futures]


def test_concurrent_jobs_of_one_kind_share_a_batch_and_other_kinds_wait() -> None:
    run = Recorder()
    batcher = _batcher(run)
    futures = _queue_behind_a_running_job(run, batcher, [("topk", ["b"], 4), ("score", ["e"], 4),
                                                         ("topk", ["c", "d"], 8)])
    assert [f.result(5) for f in futures] == [["topk:a"], ["topk:b"], ["score:e"], ["topk:c", "topk:d"]]
    assert run.calls == [("topk", ["a"]), ("topk", ["b", "c", "d"]), ("score", ["e"])]
    batcher.close()


def test_a_batch_never_exceeds_the_token_budget() -> None:
    run = Recorder()
    batcher = _batcher(run, budget=10)
    futures = _queue_behind_a_running_job(run, batcher, [("topk", ["b"], 4), ("topk", ["c"], 4), ("topk", ["d"], 4)])
    for f in futures:
        f.result(5)
    assert [inputs for _, inputs in run.calls] == [["a"], ["b", "c"], ["d"]]
    batcher.close()


def test_with_batching_off_every_job_runs_alone() -> None:
    run = Recorder()
    batcher = _batcher(run, enabled=False)
    futures = _queue_behind_a_running_job(run, batcher, [("topk", ["b"], 4), ("topk", ["c"], 4)])
    for f in futures:
        f.result(5)
    assert [inputs for _, inputs in run.calls] == [["a"], ["b"], ["c"]]
    batcher.close()


def test_a_failing_merged_batch_is_retried_job_by_job() -> None:
    run = Recorder()
    batcher = _batcher(run)
    futures = _queue_behind_a_running_job(run, batcher, [("topk", ["b"], 4), ("topk", ["bad"], 4),
                                                         ("topk", ["c"], 4)])
    assert futures[1].result(5) == ["topk:b"] and futures[3].result(5) == ["topk:c"]
    with pytest.raises(ValueError, match="breaks the model"):
        futures[2].result(5)
    batcher.close()


def test_a_lone_request_waits_at_most_the_maximum_wait() -> None:
    run = Recorder()
    run.release.set()
    batcher = _batcher(run, wait_s=0.2)
    for _ in range(3):  # teach the batcher that requests come in threes
        futures = [batcher.submit("topk", 1, [i], 1) for i in range(3)]
        [f.result(5) for f in futures]
    start = time.monotonic()
    assert batcher.submit("topk", 1, ["alone"], 1).result(5) == ["topk:alone"]
    assert time.monotonic() - start < 1.0
    batcher.close()


def test_closed_batcher_refuses_new_work_as_unavailable() -> None:
    run = Recorder()
    run.release.set()
    batcher = _batcher(run)
    batcher.close()
    with pytest.raises(TeacherUnavailableError, match="shutting down"):
        batcher.submit("topk", 1, ["late"], 1)


def test_clients_that_just_missed_a_batch_are_waited_for_next_time() -> None:
    run = Recorder()
    batcher = _batcher(run, wait_s=1.0)
    first = batcher.submit("topk", 8, ["a"], 1)
    assert run.started.wait(5)
    late = [batcher.submit("topk", 8, [x], 1) for x in ("b", "c")]  # arrive while "a" runs
    run.release.set()
    first.result(5)
    time.sleep(0.1)  # the next batch is open with b and c and expects a third job
    start = time.monotonic()
    third = batcher.submit("topk", 8, ["d"], 1)
    assert [f.result(5) for f in [*late, third]] == [["topk:b"], ["topk:c"], ["topk:d"]]
    assert time.monotonic() - start < 0.9  # closed when the third arrived, not at the deadline
    assert run.calls[1] == ("topk", ["b", "c", "d"])
    batcher.close()


def test_a_lone_sequential_client_never_waits_for_company() -> None:
    run = Recorder()
    run.release.set()
    batcher = _batcher(run, wait_s=1.0)
    start = time.monotonic()
    for i in range(5):
        assert batcher.submit("topk", 1, [i], 1).result(5) == [f"topk:{i}"]
    assert time.monotonic() - start < 0.9
    batcher.close()
