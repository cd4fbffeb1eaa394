"""The client's replicas: one gRPC channel per endpoint, round-robin load spreading, failure cool-down.

An endpoint that failed with a transient error is skipped for `cooldown_s` (other replicas take its
share) and tried again afterwards, so a restarted replica is picked up without restarting the client.
Each endpoint must pass the Info check (same vocabulary) before it gets work; a failure resets that.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from kdproto import teacher_pb2_grpc as pb_grpc
from s2s.errors import KDError


def parse_endpoints(endpoints: Sequence[str] | str) -> list[str]:
    """`"host:port,host:port"` or a list of such strings -> unique targets, in order."""
    items = [endpoints] if isinstance(endpoints, str) else list(endpoints)
    targets = [t.strip() for item in items for t in item.split(",") if t.strip()]
    if not targets:
        raise KDError("no teacher endpoints given; pass HOST:PORT, or several separated by commas")
    return list(dict.fromkeys(targets))


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """Explicit message limits (gRPC's 4 MiB default is too small), quick reconnects to replicas, and
    round-robin over every address one name resolves to (`dns:///teacher:50051` with several replicas)."""
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.enable_retries", 0),
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000)]


@dataclass
class Endpoint:
    """One teacher replica."""

    target: str
    channel: grpc.Channel
    stub: Any
    verified: bool = False
    down_until: float = 0.0
    failures: int = field(default=0)


class EndpointPool:
    """Picks endpoints round-robin among the healthy ones."""

    def __init__(self, targets: Sequence[str], max_message_bytes: int, cooldown_s: float = 1.0,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        options = channel_options(max_message_bytes)
        self.endpoints = [self._connect(t, options, credentials) for t in targets]
        self._cooldown_s = cooldown_s
        self._lock = threading.Lock()
        self._cycle = itertools.cycle(range(len(self.endpoints)))

    @staticmethod
    def _connect(target: str, options: list[tuple[str, Any]], credentials: grpc.ChannelCredentials | None) -> Endpoint:
        channel = (grpc.secure_channel(target, credentials, options=options) if credentials is not None
                   else grpc.insecure_channel(target, options=options))
        return Endpoint(target, channel, pb_grpc.TeacherStub(channel))

    def pick(self, avoid: set[str]) -> Endpoint:
        """The next healthy endpoint not in `avoid`; failing that any healthy one; failing that the one
        that comes out of its cool-down first (all replicas down: try anyway)."""
        now = time.monotonic()
        with self._lock:
            start = next(self._cycle)
            order = self.endpoints[start:] + self.endpoints[:start]
            for candidates in ([e for e in order if e.down_until <= now and e.target not in avoid],
                               [e for e in order if e.down_until <= now]):
                if candidates:
                    return candidates[0]
            return min(order, key=lambda e: e.down_until)

    def mark_down(self, endpoint: Endpoint) -> None:
        with self._lock:
            endpoint.failures += 1
            endpoint.verified = False
            endpoint.down_until = time.monotonic() + self._cooldown_s

    def mark_up(self, endpoint: Endpoint) -> None:
        with self._lock:
            endpoint.failures = 0
            endpoint.down_until = 0.0

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.channel.close()
