"""Twenty concurrent clients are all served correctly, and their requests are visibly batched together."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_twenty_concurrent_clients_are_batched(serve: Any, models_dir: Callable[..., Path],
                                               exports: dict[str, Path], micro_checkpoint: Path,
                                               reference: Callable[..., list[str]], sentences: list[str],
                                               max_len: int) -> None:
    expected = dict(zip(sentences, reference(micro_checkpoint, sentences, max_len), strict=True))

    async def client(url: str, index: int) -> list[tuple[str, httpx.Response]]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            out = []
            for round_ in range(3):
                text = sentences[(index + round_) % len(sentences)]
                out.append((text, await http.post("/v1/translate", json={"text": text, "max_length": max_len})))
            return out

    async def run_all(url: str) -> list[tuple[str, httpx.Response]]:
        per_client = await asyncio.gather(*(client(url, i) for i in range(20)))
        return [pair for pairs in per_client for pair in pairs]

    with serve(models_dir(micro=exports["f32"]), max_batch=32, max_wait_ms=20) as gw:
        answers = asyncio.run(run_all(gw.url))
        metrics = httpx.get(gw.url + "/metrics").text
    assert len(answers) == 60
    assert all(r.status_code == 200 for _, r in answers)
    assert all(r.json()["translation"] == expected[text] for text, r in answers), "each answer is its own text's"
    batches = _metric(metrics, "kd_gateway_batch_requests_count")
    requests = _metric(metrics, "kd_gateway_batch_requests_sum")
    singles = _metric(metrics, 'kd_gateway_batch_requests_bucket{le="1.0"}')
    assert requests == 60 and _metric(metrics, "kd_gateway_batch_texts_sum") == 60
    assert batches < 30, f"60 requests ran in {batches} backend calls: batching should merge most of them"
    assert singles < batches, "at least one backend call merged several requests"


def test_greedy_requests_with_different_lengths_share_batches(serve: Any, models_dir: Callable[..., Path],
                                                              micro_checkpoint: Path,
                                                              reference: Callable[..., list[str]],
                                                              sentences: list[str]) -> None:
    """PyTorch backend: one call at the longest limit, each answer cut to its own limit, equal to decoding alone."""
    limits = [3, 17, 8, 12, 5, 20]
    expected = [reference(micro_checkpoint, [text], n)[0] for text, n in zip(sentences, limits, strict=True)]

    async def run_all(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            return await asyncio.gather(*(http.post("/v1/translate", json={"text": t, "max_length": n})
                                          for t, n in zip(sentences, limits, strict=True)))

    with serve(models_dir(plain=micro_checkpoint), max_wait_ms=200) as gw:
        answers = asyncio.run(run_all(gw.url))
        metrics = httpx.get(gw.url + "/metrics").text
    assert [r.json()["translation"] for r in answers] == expected
    assert _metric(metrics, "kd_gateway_batch_requests_count") < len(limits)
