"""gRPC handlers of `kd.teacher.v1.Teacher`: convert, call one engine method, convert back.

All error handling goes through `status.abort` (the single error-to-status mapping); all protobuf work
through `wire`. Every RPC is counted and timed in metrics with the status code it ended with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from services.teacher import wire
from services.teacher.engine import TeacherEngine
from services.teacher.metrics import TeacherMetrics
from services.teacher.status import abort, status_for


class TeacherHandlers:
    """The servicer object registered with the gRPC server."""

    def __init__(self, engine: TeacherEngine, metrics: TeacherMetrics) -> None:
        self._engine = engine
        self._metrics = metrics

    def Info(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 - gRPC method name
        return self._serve("Info", context, lambda _deadline: wire.info_response(self._engine.info()))

    def TopK(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._serve("TopK", context, lambda deadline: wire.topk_response(
            self._engine.topk(*wire.topk_args(request, self._engine.limits), timeout_s=deadline)))

    def Sample(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._serve("Sample", context, lambda deadline: wire.sample_response(
            self._engine.sample(*wire.sample_args(request), timeout_s=deadline)))

    def Score(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._serve("Score", context, lambda deadline: wire.score_response(
            self._engine.score(*wire.score_args(request, self._engine.limits), timeout_s=deadline)))

    def Generate(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        def generate(deadline: float | None) -> Any:
            src, beam_size, nbest, max_len, texts = wire.generate_args(request, self._engine.limits)
            return wire.generate_response(self._engine.generate(src, beam_size, nbest, max_len, deadline, texts))
        return self._serve("Generate", context, generate)

    def _serve(self, method: str, context: grpc.ServicerContext, call: Callable[[float | None], Any]) -> Any:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        self._metrics.inflight.inc()
        try:
            return call(context.time_remaining())
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status, the server keeps serving
            code = status_for(exc)[0]
            abort(context, exc, method)
        finally:
            self._metrics.inflight.dec()
            self._metrics.requests.labels(method, code.name).inc()
            self._metrics.latency.labels(method).observe(time.perf_counter() - start)
