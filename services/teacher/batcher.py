"""Dynamic batching: concurrent requests of the same kind are merged into one model run.

One worker thread owns the model. When it is free, a batch opens with the oldest queued job and takes
compatible jobs (same operation and parameters) until the token budget is full, or until the maximum
wait (counted from when the worker became free or the job arrived, whichever is later) has passed, or
as soon as the expected company is there. The expected company is learned: the size of recent batches
plus the compatible jobs that arrived while they ran within the maximum wait of their start (clients that
just missed them). A lone client therefore never waits, while concurrent clients whose answers come back
together are gathered into one batch again. Jobs of other kinds wait for the next batch, in arrival order.
With batching off every job runs alone (the benchmark's baseline). If a merged run fails, its jobs are
re-run one by one, so one bad request cannot fail the others.

The queue is bounded by tokens (`max_queue_tokens`): a job that would take it past the bound is refused
at once with `TeacherOverloadedError` (RESOURCE_EXHAUSTED with a retry hint), so that a flood of clients
sheds load instead of making every admitted request wait past its deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from s2s.teacher.contract import TeacherOverloadedError, TeacherUnavailableError
from services.teacher.metrics import TeacherMetrics

log = logging.getLogger(__name__)

# run(op, params, inputs) -> one result per input, in order.
RunFn = Callable[[str, Hashable, list[Any]], list[Any]]
_RECENT_BATCHES = 4


@dataclass
class Job:
    """One request's share of a batch: per-sentence inputs and the future its handler waits on."""

    op: str
    params: Hashable
    inputs: list[Any]
    tokens: int
    future: Future[list[Any]] = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)

    def compatible(self, other: Job) -> bool:
        return self.op == other.op and self.params == other.params


class DynamicBatcher:
    """Queues jobs and runs them on one worker thread, merged by operation and token budget."""

    def __init__(self, run: RunFn, metrics: TeacherMetrics, max_batch_tokens: int, max_wait_s: float,
                 enabled: bool = True, max_queue_tokens: int | None = None) -> None:
        self._run = run
        self._max_queue_tokens = max_queue_tokens or 8 * max_batch_tokens
        self._queued_tokens = 0
        self._seconds_per_token = 1e-4  # learned from model runs, for the retry hint
        self._metrics = metrics
        self._budget = max_batch_tokens
        self._max_wait_s = max_wait_s
        self._enabled = enabled
        self._queue: deque[Job] = deque()
        self._recent: deque[int] = deque([1], maxlen=_RECENT_BATCHES)
        self._cond = threading.Condition()
        self._closed = False
        self._running: Job | None = None  # first job of the batch on the model, for counting late arrivals
        self._running_since = 0.0
        self._late = 0
        self._worker = threading.Thread(target=self._loop, name="teacher-batcher", daemon=True)
        self._worker.start()

    def submit(self, op: str, params: Hashable, inputs: list[Any], tokens: int) -> Future[list[Any]]:
        """Queue a job; its future resolves to one result per input."""
        job = Job(op, params, inputs, tokens)
        with self._cond:
            if self._closed:
                raise TeacherUnavailableError("the teacher is shutting down; retry on another replica")
            if self._queue and self._queued_tokens + tokens > self._max_queue_tokens:
                retry = min(max(self._queued_tokens * self._seconds_per_token, 0.05), 30.0)
                self._metrics.shed.labels(op).inc()
                raise TeacherOverloadedError(
                    f"the teacher is overloaded ({len(self._queue)} requests, {self._queued_tokens} tokens queued; "
                    f"the queue holds {self._max_queue_tokens}); retry in {retry:.2f} s or on another replica",
                    retry_after_s=retry)
            self._queue.append(job)
            self._queued_tokens += tokens
            if self._running is not None and job.compatible(self._running) and \
                    job.enqueued - self._running_since <= self._max_wait_s:
                self._late += 1
            self._cond.notify_all()
        return job.future

    def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new jobs, finish the queued ones, stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout_s)

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            self._execute(batch)
            with self._cond:
                self._recent.append(len(batch) + self._late)
                self._running = None

    def _take(self) -> list[Job] | None:
        ready_at = time.monotonic()
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._queue[0]
            if self._enabled:
                self._wait_for_company(first, max(first.enqueued, ready_at))
            batch = self._pop_batch(first)
            self._queued_tokens -= sum(job.tokens for job in batch)
            self._running, self._running_since, self._late = first, time.monotonic(), 0
            return batch

    def _wait_for_company(self, first: Job, opened_at: float) -> None:
        """Hold the batch open until it is full, the wait is over, or the expected company has arrived."""
        deadline = opened_at + self._max_wait_s
        expected = max(self._recent)
        while not self._closed:
            jobs = [j for j in self._queue if j.compatible(first)]
            if sum(j.tokens for j in jobs) >= self._budget or len(jobs) >= expected:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _pop_batch(self, first: Job) -> list[Job]:
        batch, tokens, keep = [first], first.tokens, deque[Job]()
        self._queue.popleft()
        while self._queue:
            job = self._queue.popleft()
            if self._enabled and job.compatible(first) and tokens + job.tokens <= self._budget:
                batch.append(job)
                tokens += job.tokens
            else:
                keep.append(job)
        self._queue = keep
        return batch

    def _execute(self, batch: list[Job]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        op, params = live[0].op, live[0].params
        inputs = [x for job in live for x in job.inputs]
        start = time.monotonic()
        for job in live:
            self._metrics.queue_wait.labels(op).observe(start - job.enqueued)
        try:
            results = self._run(op, params, inputs)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the waiting handlers
            self._fail(live, exc)
            return
        seconds = time.monotonic() - start
        self._observe(op, live, len(inputs), seconds)
        self._seconds_per_token = 0.8 * self._seconds_per_token + 0.2 * seconds / max(sum(j.tokens for j in live), 1)
        offset = 0
        for job in live:
            job.future.set_result(results[offset : offset + len(job.inputs)])
            offset += len(job.inputs)

    def _fail(self, live: list[Job], exc: BaseException) -> None:
        if len(live) == 1:
            live[0].future.set_exception(exc)
            return
        log.warning("a merged batch of %d requests failed (%s); running them one by one", len(live), exc)
        for job in live:
            retry: Future[list[Any]] = Future()
            solo = Job(job.op, job.params, job.inputs, job.tokens, retry, job.enqueued)
            self._execute([solo])
            _copy_outcome(retry, job.future)

    def _observe(self, op: str, live: list[Job], sentences: int, seconds: float) -> None:
        m = self._metrics
        m.model_batches.labels(op).inc()
        m.model_sentences.labels(op).inc(sentences)
        m.model_seconds.labels(op).observe(seconds)
        m.batch_sentences.labels(op).observe(sentences)
        m.batch_requests.labels(op).observe(len(live))
        m.batch_tokens.labels(op).observe(sum(job.tokens for job in live))


def _copy_outcome(source: Future[list[Any]], target: Future[list[Any]]) -> None:
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())
