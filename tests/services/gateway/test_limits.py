"""Texts longer than the model reads, a backend failing on one request, and the request time limit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services.gateway.batcher import Batcher
from services.gateway.errors import TimedOut, TranslationFailed
from services.gateway.metrics import GatewayMetrics

LONG = " ".join(["Y dijo Dios: Sea la luz; y fue la luz."] * 25)  # about 300 tokens, under max_chars


def test_a_text_longer_than_the_model_reads_is_a_422_unless_truncation_is_asked(f32_gateway: Any) -> None:
    with f32_gateway.client() as client:
        refused = client.post("/v1/translate", json={"texts": ["Hola", LONG], "max_length": 8})
        allowed = client.post("/v1/translate", json={"texts": ["Hola", LONG], "max_length": 8, "truncate": True})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "text_too_long" and "text 1 is" in error["message"] and "at most 128" in error["message"]
    assert '"truncate": true' in error["message"]
    assert allowed.status_code == 200 and allowed.json()["truncated"] == [False, True]
    assert all(isinstance(t, str) for t in allowed.json()["translations"])


class _Model:
    """A stand-in model for the batcher's logic: fails on texts containing BOOM, sleeps on SLOW."""

    id, calls = "fake", 0

    def translate(self, texts: Sequence[str], beam_size: int, max_lengths: Sequence[int],
                  iterations: int = 10) -> list[str]:
        type(self).calls += 1
        if any("BOOM" in t for t in texts):
            raise RuntimeError("backend failure")
        if any("SLOW" in t for t in texts):
            time.sleep(0.5)
        return [t.upper() for t in texts]


async def _with_batcher(body: Any, **kwargs: Any) -> Any:
    batcher = Batcher(max_batch=32, max_wait_ms=50, queue_size=16, metrics=GatewayMetrics(), **kwargs)
    batcher.start()
    try:
        return await body(batcher)
    finally:
        await batcher.stop()


def test_a_failing_text_fails_only_its_own_request() -> None:
    async def body(batcher: Batcher) -> list[Any]:
        model: Any = _Model()
        jobs = [batcher.submit(model, [text], 1, 8) for text in ("uno", "BOOM", "tres")]
        return await asyncio.gather(*jobs, return_exceptions=True)

    good, bad, other = asyncio.run(_with_batcher(body))
    assert good.translations == ["UNO"] and other.translations == ["TRES"]
    assert isinstance(bad, TranslationFailed) and "other requests are not affected" in bad.message


def test_a_request_past_its_time_limit_is_a_504_and_its_texts_are_dropped() -> None:
    async def body(batcher: Batcher) -> tuple[Any, Any]:
        model: Any = _Model()
        slow = asyncio.create_task(batcher.submit(model, ["SLOW"], 1, 8, timeout_s=5))
        await asyncio.sleep(0.05)
        late = asyncio.create_task(batcher.submit(model, ["later"], 1, 8, timeout_s=0.1))
        return await asyncio.gather(slow, late, return_exceptions=True)

    _Model.calls = 0
    slow, late = asyncio.run(_with_batcher(body))
    assert slow.translations == ["SLOW"]
    assert isinstance(late, TimedOut) and "within 0.1 s" in late.message
    assert _Model.calls == 1  # the timed-out request never reached the backend


@pytest.mark.slow
def test_the_time_limit_holds_through_real_http(serve: Any, models_dir: Any, exports: dict[str, Path]) -> None:
    with serve(models_dir(micro=exports["f32"]), request_timeout_s=0.001) as gw, gw.client() as client:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(client.post(
            "/v1/translate", json={"texts": ["Hola"] * 30, "max_length": 64}))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    codes = [a.status_code for a in answers]
    assert 504 in codes and set(codes) <= {200, 504}, codes
    timed_out = next(a for a in answers if a.status_code == 504).json()["error"]
    assert timed_out["code"] == "timed_out" and "time limit" in timed_out["message"]
