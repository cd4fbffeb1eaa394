"""Assembling and running the teacher server: model, cache, engine, gRPC (+ health, reflection), metrics.

`TeacherServer` is the embeddable part (tests start it in-process on port 0); `serve` runs it until
SIGTERM/SIGINT and then shuts down gracefully: health turns NOT_SERVING, new RPCs are refused (clients
fail over), in-flight RPCs get `drain_s` seconds to finish, then the batcher and cache are closed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from s2s.checkpoint import Checkpoint
from s2s.device import pick_placement
from s2s.errors import KDError
from services.teacher import wire
from services.teacher.cache import NoCache, RedisCache, ResultCache
from services.teacher.config import ServerConfig
from services.teacher.engine import TeacherEngine
from services.teacher.handlers import TeacherHandlers
from services.teacher.metrics import TeacherMetrics
from services.teacher.models import load_models
from services.teacher.security import TokenCheck, read_secret, refuse_placeholder, server_credentials

log = logging.getLogger(__name__)


def grpc_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """Explicit message limits (gRPC's default 4 MiB receive limit is too small for top-k batches)."""
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0)]


class TeacherServer:
    """A teacher model served over gRPC on `config.host:config.port`."""

    def __init__(self, config: ServerConfig, checkpoint: Checkpoint | None = None) -> None:
        self.config = config
        self.metrics = TeacherMetrics()
        placement = pick_placement(config.device)
        if placement.device.type == "cpu":
            torch.set_num_threads(config.threads or max(1, os.cpu_count() or 1))
        self.models = load_models(config, placement.device, placement.dtype, [checkpoint] if checkpoint else None)
        self.checkpoint = self.models.checkpoint
        try:
            self.engine = TeacherEngine(self.models, config, self._make_cache(), self.metrics, placement.describe())
        except BaseException:
            self.models.close()
            raise
        token = read_secret(config.auth_token_file, "teacher token") if config.auth_token_file else None
        self._grpc = grpc.server(ThreadPoolExecutor(config.workers, thread_name_prefix="teacher-rpc"),
                                 options=grpc_options(config.max_message_bytes),
                                 maximum_concurrent_rpcs=config.max_concurrent_rpcs,
                                 interceptors=[TokenCheck(token)] if token else None)
        wire.register(self._grpc, TeacherHandlers(self.engine, self.metrics))
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._grpc)
        reflection.enable_server_reflection(
            [wire.SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], self._grpc)
        self.port = self._bind(config.host, config.port)
        self.metrics_port: int | None = None
        self._metrics_server: Any = None
        self._stopped = threading.Event()

    def _bind(self, host: str, port: int) -> int:
        cert, key = self.config.tls_cert, self.config.tls_key
        try:
            bound = (self._grpc.add_secure_port(f"{host}:{port}", server_credentials(cert, key))
                     if cert is not None and key is not None else self._grpc.add_insecure_port(f"{host}:{port}"))
        except RuntimeError as exc:
            bound, reason = 0, str(exc)
        else:
            reason = "address in use or not available"
        if not bound:
            self.engine.close()
            raise KDError(f"cannot listen on {host}:{port} ({reason}); pick another --port or --host")
        return bound

    def _make_cache(self) -> ResultCache:
        url = self.config.redis_url
        if self.config.redis_url_file is not None:
            url = read_secret(self.config.redis_url_file, "Redis URL")
        if not url:
            self.metrics.redis_up.set(0)
            return NoCache()
        refuse_placeholder(url, "Redis URL")
        return RedisCache(url, self.config.cache_ttl_s, self.metrics, self.config.cache_retry_s)

    def start(self) -> int:
        """Start serving; returns the bound gRPC port."""
        self._grpc.start()
        if self.config.metrics_port is not None:
            self._metrics_server, self.metrics_port = self.metrics.serve(self.config.metrics_port, self.config.host)
        for service in ("", wire.SERVICE_NAME):
            self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        info = self.engine.info()
        log.info("teacher %s (%s) serving on %s:%d, device %s, TopK/Score engine %s, dynamic batching %s, cache %s, "
                 "metrics port %s", info.teacher.model_id, info.teacher_id, self.config.host, self.port, info.device,
                 info.engine,
                 "on" if self.config.dynamic_batching else "off",
                 "redis" if self.config.redis_url or self.config.redis_url_file else "off", self.metrics_port)
        log.info("transport: %s, %s", "TLS" if self.config.tls_cert else "plaintext (no --tls-cert)",
                 "token required" if self.config.auth_token_file else "no token (no --auth-token-file)")
        return self.port

    def stop(self, grace_s: float | None = None) -> None:
        """Graceful shutdown: NOT_SERVING, refuse new RPCs, let in-flight ones finish, release resources."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.config.drain_s if grace_s is None else grace_s
        self._health.enter_graceful_shutdown()
        self._grpc.stop(grace).wait()
        self.engine.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        log.info("teacher on port %d stopped", self.port)


def serve(config: ServerConfig) -> int:
    """Run a teacher server until SIGTERM or SIGINT; returns the process exit code."""
    server = TeacherServer(config)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("received %s; draining in-flight requests (up to %.0fs)", signal.Signals(signum).name, config.drain_s)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server.start()
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0
