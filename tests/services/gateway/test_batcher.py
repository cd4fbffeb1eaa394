"""The batcher answers a lone request at once and still merges what arrives while the model is busy.

The model here is a stand-in whose calls block until the test lets them go, so which requests share a call
is decided by the order of events, not by timing; `max_wait_ms` is set to a minute where a waiting batcher
would show, so a test that passes did not wait.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.gateway.batcher import Batcher
from services.gateway.metrics import GatewayMetrics

MINUTE_MS = 60_000.0


class _GatedModel:
    """Records each backend call's texts; a call blocks while `gate` is closed."""

    id = "gated"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def translate(self, texts: Sequence[str], beam_size: int, max_lengths: Sequence[int],
                  iterations: int = 10) -> list[str]:
        self.calls.append(list(texts))
        self.entered.set()
        self.gate.wait(timeout=30)
        return [t.upper() for t in texts]

    def translate_nbest(self, texts: Sequence[str], beam_size: int, nbest: int,
                        max_lengths: Sequence[int]) -> list[list[str]]:
        self.calls.append(list(texts))
        return [[f"{t}-{k}" for k in range(nbest)] for t in texts]


async def _run(body: Any, max_wait_ms: float) -> Any:
    batcher = Batcher(max_batch=32, max_wait_ms=max_wait_ms, queue_size=64, metrics=GatewayMetrics())
    batcher.start()
    try:
        return await asyncio.wait_for(body(batcher), timeout=20)
    finally:
        await batcher.stop()


async def _busy(model: _GatedModel, batcher: Batcher, text: str) -> asyncio.Task[Any]:
    """Start a request and wait until the model is working on it (with the gate closed)."""
    model.gate.clear()
    model.entered.clear()
    task = asyncio.create_task(batcher.submit(model, [text], 1, 8))  # type: ignore[arg-type]
    await asyncio.to_thread(model.entered.wait, 10)
    return task


def test_a_lone_request_does_not_wait_for_company() -> None:
    model = _GatedModel()

    async def body(batcher: Batcher) -> list[Any]:
        first = await batcher.submit(model, ["uno"], 1, 8)  # type: ignore[arg-type]
        second = await batcher.submit(model, ["dos"], 1, 8)  # type: ignore[arg-type]
        return [first, second]

    first, second = asyncio.run(_run(body, MINUTE_MS))  # a batcher that waited would time out after 20 s
    assert first.translations == ["UNO"] and second.translations == ["DOS"]
    assert model.calls == [["uno"], ["dos"]]
    assert first.queue_ms < MINUTE_MS / 2 and second.queue_ms < MINUTE_MS / 2


def test_requests_that_arrive_while_the_model_is_busy_share_the_next_call() -> None:
    model = _GatedModel()

    async def body(batcher: Batcher) -> list[Any]:
        running = await _busy(model, batcher, "uno")
        queued = [asyncio.create_task(batcher.submit(model, [t], 1, 8))  # type: ignore[arg-type]
                  for t in ("dos", "tres", "cuatro")]
        await asyncio.sleep(0.05)  # all three are queued behind the running call
        model.gate.set()
        return await asyncio.gather(running, *queued)

    results = asyncio.run(_run(body, 300.0))  # the next call also waits (briefly) for the first client
    assert [r.translations for r in results] == [["UNO"], ["DOS"], ["TRES"], ["CUATRO"]]
    assert model.calls == [["uno"], ["dos", "tres", "cuatro"]]


def test_after_a_merged_batch_it_waits_for_that_many_requests_then_goes() -> None:
    """Closed-loop clients answered together come back a moment apart: the next call gathers them all."""
    model = _GatedModel()

    async def body(batcher: Batcher) -> None:
        running = await _busy(model, batcher, "a")
        merged = [asyncio.create_task(batcher.submit(model, [t], 1, 8)) for t in ("b", "c")]  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        model.gate.set()
        await running  # "a" is answered while "b" and "c" wait: the next call waits for "a"'s client too
        await asyncio.sleep(0.2)  # which comes back later, well within max_wait_ms
        again = asyncio.create_task(batcher.submit(model, ["a2"], 1, 8))  # type: ignore[arg-type]
        await asyncio.gather(*merged, again)  # the previous call merged three requests
        back = [asyncio.create_task(batcher.submit(model, ["d"], 1, 8))]  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        back.append(asyncio.create_task(batcher.submit(model, ["e"], 1, 8)))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        back.append(asyncio.create_task(batcher.submit(model, ["f"], 1, 8)))  # type: ignore[arg-type]
        await asyncio.gather(*back)

    asyncio.run(_run(body, MINUTE_MS))
    assert model.calls == [["a"], ["b", "c", "a2"], ["d", "e", "f"]], "two cohorts of clients merged into one"


def test_company_that_does_not_come_is_waited_for_at_most_max_wait_and_then_not_at_all() -> None:
    model = _GatedModel()

    async def body(batcher: Batcher) -> list[Any]:
        running = await _busy(model, batcher, "a")
        merged = [asyncio.create_task(batcher.submit(model, [t], 1, 8)) for t in ("b", "c")]  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        model.gate.set()
        await asyncio.gather(running, *merged)
        alone = await batcher.submit(model, ["d"], 1, 8)  # type: ignore[arg-type]  # waits up to 300 ms
        after = await batcher.submit(model, ["e"], 1, 8)  # type: ignore[arg-type]  # the last call had one
        return [alone, after]

    alone, after = asyncio.run(_run(body, 300.0))
    assert model.calls[-2:] == [["d"], ["e"]]
    assert alone.queue_ms >= 250, "it waited for the two requests of the previous call"
    assert after.queue_ms < 250, "one request in the previous call: no waiting"


def test_an_nbest_request_gets_its_alternatives_in_its_own_call() -> None:
    model = _GatedModel()

    async def body(batcher: Batcher) -> list[Any]:
        return list(await asyncio.gather(batcher.submit(model, ["x", "y"], 3, 8, nbest=3),  # type: ignore[arg-type]
                                         batcher.submit(model, ["z"], 1, 8)))  # type: ignore[arg-type]

    nbest, greedy = asyncio.run(_run(body, 0.0))
    assert nbest.translations == ["x-0", "y-0"] and nbest.alternatives == [["x-1", "x-2"], ["y-1", "y-2"]]
    assert greedy.translations == ["Z"] and greedy.alternatives == []
    assert sorted(model.calls) == [["x", "y"], ["z"]]  # different n-best sizes never share a call


def test_a_lone_http_request_is_not_held_for_max_wait(serve: Any, models_dir: Any, exports: dict[str, Path]) -> None:
    with serve(models_dir(micro=exports["f32"]), max_wait_ms=5000) as gw, gw.client() as client:
        timings = [client.post("/v1/translate", json={"text": "Hola", "max_length": 4}).json()["timings"]
                   for _ in range(3)]
    assert all(t["queue_ms"] < 2500 for t in timings), timings  # a waiting batcher shows 5000 ms here
