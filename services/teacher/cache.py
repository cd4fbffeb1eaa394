"""The Redis result cache, as an accelerator that is never a dependency.

Any Redis failure (unreachable, timeout, error reply) turns into cache misses: the request is answered
from the model, the error is counted in metrics, and the first failure is logged once. While Redis is
down the cache is skipped for `retry_s` seconds between attempts (so requests do not each pay a connect
timeout); the first successful attempt logs that Redis is back and the cache is used again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.teacher.metrics import TeacherMetrics

log = logging.getLogger(__name__)
T = TypeVar("T")


class ResultCache(Protocol):
    """Bytes by key; a failing cache behaves like an empty one."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def put_many(self, items: Mapping[str, bytes]) -> None: ...

    def close(self) -> None: ...


class NoCache:
    """The cache when no Redis is configured: always empty."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [None] * len(keys)

    def put_many(self, items: Mapping[str, bytes]) -> None:
        return None

    def close(self) -> None:
        return None


class RedisCache:
    """Per-sentence results in Redis with a TTL; degrades to misses while Redis is unavailable."""

    def __init__(self, url: str, ttl_s: int, metrics: TeacherMetrics, retry_s: float = 2.0,
                 timeout_s: float = 0.5) -> None:
        self._where = _describe(url)
        self._ttl_s = ttl_s
        self._metrics = metrics
        self._retry_s = retry_s
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                            retry=Retry(NoBackoff(), 0))
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0
        self._run(lambda: bool(self._client.ping()), False)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of `keys` (None where absent, or everywhere while Redis is down)."""
        if not keys:
            return []
        misses: list[Any] = [None] * len(keys)
        return [v if isinstance(v, bytes) else None for v in self._run(lambda: self._client.mget(list(keys)), misses)]

    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store `items` with the TTL in one round trip (silently skipped while Redis is down)."""
        if not items:
            return

        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, value, ex=self._ttl_s)
            pipe.execute()

        self._run(write, None)

    def close(self) -> None:
        self._client.close()

    @property
    def available(self) -> bool:
        """False while Redis is considered down."""
        return not self._down

    def _run(self, op: Callable[[], T], default: T) -> T:
        if not self._should_try():
            return default
        try:
            result = op()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return default
        self._succeeded()
        return result

    def _should_try(self) -> bool:
        with self._lock:
            return not self._down or time.monotonic() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        self._metrics.redis_errors.inc()
        self._metrics.redis_up.set(0)
        with self._lock:
            first = not self._down
            self._down, self._retry_at = True, time.monotonic() + self._retry_s
        if first:
            log.warning("Redis cache at %s failed (%s: %s); answering from the model and retrying every %.1fs",
                        self._where, type(exc).__name__, exc, self._retry_s)

    def _succeeded(self) -> None:
        self._metrics.redis_up.set(1)
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.info("Redis cache at %s is reachable again; using the cache", self._where)


def _describe(url: str) -> str:
    """host:port/db of a Redis URL, without any password, for log messages."""
    kwargs = redis.connection.parse_url(url)
    return f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
