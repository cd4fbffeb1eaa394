"""Prometheus metrics of one teacher server (own registry, so several servers can live in one process).

Requests and latency per RPC and status code; model batches (sentences, requests merged, tokens, seconds,
queue wait); cache hits and misses per operation; Redis errors and whether the cache is in use.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_COUNT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_TOKEN_BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
_SECOND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class TeacherMetrics:
    """All metrics of a teacher server, registered in `self.registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter("kd_teacher_requests", "RPCs answered, by method and status code",
                                ["method", "code"], registry=r)
        self.latency = Histogram("kd_teacher_request_seconds", "RPC latency in the server", ["method"],
                                 buckets=_SECOND_BUCKETS, registry=r)
        self.request_tokens = Counter("kd_teacher_request_tokens", "tokens in accepted requests (budget cost)",
                                      ["op"], registry=r)
        self.inflight = Gauge("kd_teacher_inflight_requests", "RPCs being handled now", registry=r)
        self.batch_sentences = Histogram("kd_teacher_batch_sentences", "sentences per model batch", ["op"],
                                         buckets=_COUNT_BUCKETS, registry=r)
        self.batch_requests = Histogram("kd_teacher_batch_requests", "requests merged into one model batch",
                                        ["op"], buckets=_COUNT_BUCKETS, registry=r)
        self.batch_tokens = Histogram("kd_teacher_batch_tokens", "tokens (budget cost) per model batch", ["op"],
                                      buckets=_TOKEN_BUCKETS, registry=r)
        self.model_batches = Counter("kd_teacher_model_batches", "model runs", ["op"], registry=r)
        self.model_sentences = Counter("kd_teacher_model_sentences", "sentences the model computed", ["op"],
                                       registry=r)
        self.model_seconds = Histogram("kd_teacher_model_seconds", "model time per batch", ["op"],
                                       buckets=_SECOND_BUCKETS, registry=r)
        self.queue_wait = Histogram("kd_teacher_queue_wait_seconds", "time a request waited to be batched",
                                    ["op"], buckets=_SECOND_BUCKETS, registry=r)
        self.cache_hits = Counter("kd_teacher_cache_hits", "sentences answered from the cache", ["op"], registry=r)
        self.cache_misses = Counter("kd_teacher_cache_misses", "sentences the cache did not have", ["op"],
                                    registry=r)
        self.cache_bad_values = Counter("kd_teacher_cache_bad_values", "cached values that did not answer the request "
                                        "(shape, ids, NaN or impossible log q) and were recomputed", ["op"], registry=r)
        self.shed = Counter("kd_teacher_shed_requests", "requests refused because the queue was full", ["op"],
                            registry=r)
        self.redis_errors = Counter("kd_teacher_redis_errors", "failed Redis operations", registry=r)
        self.redis_up = Gauge("kd_teacher_redis_up", "1 while the Redis cache is in use, else 0", registry=r)

    def serve(self, port: int, host: str = "0.0.0.0") -> tuple[Any, int]:
        """Start the HTTP exposition server; returns (server, bound port). `server.shutdown()` stops it."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server, int(server.server_port)
