"""Issuing teacher requests for upcoming batches while the current batch computes.

`Prefetcher` wraps a batch iterator: when the loop takes batch n it has already sent the request for
batches n+1..n+depth, so the teacher (and the network, and the cache) work while the student runs its
forward and backward passes. Only answers that do not depend on the student's current weights can be
requested ahead: TopK on reference or Seq-KD targets. Score answers for the student's own candidates
are requested inside the step (see `student_trainer.objectives`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from student_trainer.batches import Batch

Request = Callable[[Batch], "Future[Any] | None"]


class Prefetcher:
    """Yields (batch, future of its teacher answer or None), keeping `depth` requests in flight ahead."""

    def __init__(self, batches: Iterator[Batch], request: Request | None, depth: int = 1) -> None:
        self._batches = batches
        self._request = request
        self._depth = max(depth, 0)
        self._queue: deque[tuple[Batch, Future[Any] | None]] = deque()
        self._exhausted = False

    def __iter__(self) -> Iterator[tuple[Batch, Future[Any] | None]]:
        return self

    def __next__(self) -> tuple[Batch, Future[Any] | None]:
        self._fill(self._depth + 1)
        if not self._queue:
            raise StopIteration
        return self._queue.popleft()

    def _fill(self, size: int) -> None:
        while len(self._queue) < size and not self._exhausted:
            batch = next(self._batches, None)
            if batch is None:
                self._exhausted = True
                return
            future = self._request(batch) if self._request is not None else None
            self._queue.append((batch, future))

    def close(self) -> None:
        """Cancel requests that are still queued (their batches will not be trained on)."""
        for _, future in self._queue:
            if future is not None:
                future.cancel()
        self._queue.clear()
