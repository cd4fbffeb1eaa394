"""Dynamic batching: concurrent requests are queued and translated together in a worker thread.

One asyncio task takes the first waiting request and everything queued behind it (up to `max_batch` texts),
groups it by (model version, beam size, max length, n-best) and runs each group as one backend call in a
single worker thread, so the event loop never does model work. While a batch runs, new requests pile up in the
queue and form the next, larger batch, as in continuous-batching servers: a lone user is answered at once
instead of waiting for company that is not coming. The batcher only waits (up to `max_wait_ms`) when the
previous batch merged several requests or others queued behind it, and then only until as many requests as
those are queued: closed-loop clients that were just answered together come back a moment apart, and gathering
them with the ones that waited keeps the batches, and so the throughput, of a busy gateway. A full queue
answers 503 with `Retry-After` instead of letting latency grow without bound. Every request has a time limit
(504 past it; its texts are dropped from any batch not yet started). If a merged backend call fails, its
requests are run again one by one, so one bad text fails only its own request (502).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from services.gateway.backends import LoadedModel
from services.gateway.errors import NotReady, Overloaded, TimedOut, TranslationFailed
from services.gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)


@dataclass
class _Job:
    model: LoadedModel
    texts: Sequence[str]
    beam_size: int
    max_length: int
    future: asyncio.Future[list[list[str]]]
    iterations: int = 10
    nbest: int = 1
    enqueued: float = field(default_factory=time.perf_counter)
    started: float = 0.0

    @property
    def key(self) -> tuple[int, int, int, int, int]:
        """Jobs with equal keys share a backend call: same model version, beam size, n-best size and
        Mask-Predict iterations, and for beam search the same length limit (greedy outputs are cut to each
        limit)."""
        return (id(self.model), self.beam_size, self.max_length if self.beam_size > 1 else 0, self.iterations,
                self.nbest)


@dataclass(frozen=True)
class BatchResult:
    """Translations of one request with where its time went; `alternatives[i]` are text i's other n-best
    hypotheses, best first (empty unless the request asked for an n-best list)."""

    translations: list[str]
    queue_ms: float
    compute_ms: float
    alternatives: list[list[str]] = field(default_factory=list)


class Batcher:
    """Queues translation requests and runs them in batches on one worker thread."""

    def __init__(self, max_batch: int, max_wait_ms: float, queue_size: int, metrics: GatewayMetrics) -> None:
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self.metrics = metrics
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-batch")
        self._task: asyncio.Task[None] | None = None
        self._carry: _Job | None = None
        self._company = 1  # requests of the previous batch and those queued behind it: how many to wait for

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-batcher")

    async def stop(self) -> None:
        """Stop the worker and fail what is still queued with a 503 (the server is shutting down)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        waiting = [self._carry] if self._carry else []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for job in waiting:
            if not job.future.done():
                job.future.set_exception(NotReady("the gateway is shutting down; retry on another replica"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, model: LoadedModel, texts: Sequence[str], beam_size: int, max_length: int,
                     timeout_s: float = 60.0, iterations: int = 10, nbest: int = 1) -> BatchResult:
        """Queue one request and wait for its translations (with `nbest` > 1, also each text's other
        hypotheses), at most `timeout_s` seconds."""
        if not self.running:
            raise NotReady("the gateway is not running its translation worker")
        job = _Job(model, texts, beam_size, max_length, asyncio.get_running_loop().create_future(), iterations,
                   nbest=nbest)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.metrics.rejected.labels(reason="queue_full").inc()
            raise Overloaded(f"the gateway is overloaded ({self._queue.maxsize} requests queued); "
                             "retry after the time in the Retry-After header") from None
        self.metrics.queue_depth.set(self._queue.qsize())
        try:
            hypotheses = await asyncio.wait_for(asyncio.shield(job.future), timeout_s)
        except TimeoutError:
            job.future.cancel()  # a batch that has not started yet skips it
            self.metrics.rejected.labels(reason="timeout").inc()
            raise TimedOut(f"the translation did not finish within {timeout_s:g} s (the gateway's request time "
                           "limit); retry later, or send fewer or shorter texts") from None
        done = time.perf_counter()
        return BatchResult([h[0] for h in hypotheses], (job.started - job.enqueued) * 1000,
                           (done - job.started) * 1000, [h[1:] for h in hypotheses] if nbest > 1 else [])

    async def _run(self) -> None:
        while True:
            jobs = await self._collect()
            groups: dict[tuple[int, int, int, int, int], list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.key, []).append(job)
            for group in groups.values():
                await self._execute(group)
            # Company for the next batch: the clients just answered, who come back a moment apart, and those
            # who queued behind this batch. Counting the latter keeps two cohorts of clients (one answered
            # while the other waited) from running as two half batches for ever.
            self._company = len(jobs) + self._queue.qsize() + (self._carry is not None)

    async def _collect(self) -> list[_Job]:
        """The next batch: the first waiting request and whatever is queued behind it, right away; while
        fewer requests than the company (the previous batch's and those queued behind it) are there, wait
        for them up to `max_wait_ms`."""
        first = self._carry or await self._queue.get()
        self._carry = None
        jobs, size = [first], len(first.texts)
        deadline = time.perf_counter() + self.max_wait_s
        while size < self.max_batch:
            try:
                if self._queue.qsize():
                    job = self._queue.get_nowait()
                elif len(jobs) >= self._company:
                    break  # nobody else to expect: a lone user is not kept waiting
                else:
                    job = await asyncio.wait_for(self._queue.get(), timeout=max(deadline - time.perf_counter(), 0))
            except TimeoutError:
                break
            if size + len(job.texts) > self.max_batch:
                self._carry = job
                break
            jobs.append(job)
            size += len(job.texts)
        self.metrics.queue_depth.set(self._queue.qsize())
        return jobs

    async def _execute(self, group: list[_Job]) -> None:
        live = [j for j in group if not j.future.done()]  # a client that went away is skipped
        if not live:
            return
        texts = [t for job in live for t in job.texts]
        limits = [job.max_length for job in live for _ in job.texts]
        head = live[0]
        started = time.perf_counter()
        for job in live:
            job.started = started
        loop = asyncio.get_running_loop()
        try:
            out = await loop.run_in_executor(self._executor, _run_model, head, texts, limits)
        except Exception as exc:  # noqa: BLE001 - isolate the request at fault, answer the others
            await self._isolate(live, exc)
            return
        self.metrics.observe_batch(head.model.id, len(live), len(texts), time.perf_counter() - started)
        self._deliver(live, out)

    @staticmethod
    def _deliver(live: list[_Job], out: list[list[str]]) -> None:
        offset = 0
        for job in live:
            if not job.future.done():
                job.future.set_result(out[offset: offset + len(job.texts)])
            offset += len(job.texts)

    async def _isolate(self, live: list[_Job], exc: Exception) -> None:
        """A merged call failed: run each request alone, so only the ones that fail by themselves fail."""
        head = live[0]
        if len(live) == 1:
            log.error("translation failed on model %s: %s", head.model.id, exc, exc_info=exc)
            if not head.future.done():
                head.future.set_exception(TranslationFailed(
                    f"model {head.model.id} could not translate this request ({type(exc).__name__}); other "
                    "requests are not affected; check the texts, or report it with the gateway log"))
            return
        log.warning("a batch of %d requests failed on model %s (%s); running them one by one",
                    len(live), head.model.id, exc)
        for job in live:
            if not job.future.done():
                await self._execute([job])


def _run_model(head: _Job, texts: list[str], limits: list[int]) -> list[list[str]]:
    """One backend call for a group of jobs (in the worker thread): each text's hypotheses, best first."""
    if head.nbest > 1:
        return head.model.translate_nbest(texts, head.beam_size, head.nbest, limits)
    return [[t] for t in head.model.translate(texts, head.beam_size, limits, head.iterations)]
