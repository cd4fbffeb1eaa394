"""Prometheus metrics of one gateway instance, in its own registry (so several apps can share a process).

Batching is visible through `kd_gateway_batch_requests` (requests merged per backend call) and
`kd_gateway_batch_texts` (texts per call); request counts and latencies are per endpoint and status.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
KNOWN_PATHS = frozenset({"/", "/v1/translate", "/v1/models", "/v1/admin/reload", "/healthz", "/readyz",
                         "/metrics", "/docs", "/openapi.json",
                         "/translate", "/detect", "/languages", "/frontend/settings"})  # LibreTranslate's API


class GatewayMetrics:
    """All metrics of the gateway."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("kd_gateway_requests", "HTTP requests by path and status",
                                ["path", "status"], registry=r)
        self.latency = Histogram("kd_gateway_request_seconds", "HTTP request latency by path", ["path"],
                                 registry=r)
        self.batch_requests = Histogram("kd_gateway_batch_requests", "requests merged into one backend call",
                                        buckets=_SIZE_BUCKETS, registry=r)
        self.batch_texts = Histogram("kd_gateway_batch_texts", "texts translated in one backend call",
                                     buckets=_SIZE_BUCKETS, registry=r)
        self.batch_seconds = Histogram("kd_gateway_batch_seconds", "time of one backend call", ["model"],
                                       registry=r)
        self.translated = Counter("kd_gateway_translated_texts", "texts translated by model", ["model"],
                                  registry=r)
        self.queue_depth = Gauge("kd_gateway_queue_depth", "requests waiting for a batch", registry=r)
        self.rejected = Counter("kd_gateway_rejected", "requests refused for overload", ["reason"],
                                registry=r)
        self.reloads = Counter("kd_gateway_model_loads", "model folder loads by result", ["result"],
                               registry=r)
        self.models_loaded = Gauge("kd_gateway_models_loaded", "models currently served", registry=r)

    def observe_batch(self, model: str, requests: int, texts: int, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_texts.observe(texts)
        self.batch_seconds.labels(model=model).observe(seconds)
        self.translated.labels(model=model).inc(texts)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware counting every HTTP request by (known) path and status, with its latency."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        status = {"code": 500}
        started = time.perf_counter()

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.metrics.requests.labels(path=path, status=str(status["code"])).inc()
            self.metrics.latency.labels(path=path).observe(time.perf_counter() - started)
