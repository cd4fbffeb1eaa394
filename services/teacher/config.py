"""Settings of the teacher server: command-line flags with environment fallbacks, into one frozen config.

Precedence: flag, then environment variable, then default. `add_serve_arguments` is shared by
`python -m services.teacher` and `kd teacher serve`, so both accept exactly the same flags.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from s2s.errors import KDError

T = TypeVar("T")
GENERATE_ENGINES = ("torch", "ctranslate2")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the teacher server needs to start."""

    model: Path
    port: int = 50051
    host: str = "0.0.0.0"
    redis_url: str | None = None
    metrics_port: int | None = None
    device: str = "auto"
    max_batch_tokens: int = 8192
    max_wait_ms: float = 5.0
    dynamic_batching: bool = True
    cache_ttl_s: int = 7 * 24 * 3600
    cache_retry_s: float = 2.0
    max_k: int = 64
    max_beam: int = 16
    max_message_mb: int = 64
    workers: int = 16
    threads: int | None = None
    drain_s: float = 30.0
    generate_engine: str = "torch"
    generate_quantization: str = "int8"
    max_queue_tokens: int | None = None
    max_concurrent_rpcs: int = 64

    def __post_init__(self) -> None:
        checks = {
            "--port": 0 <= self.port <= 65535, "--max-batch-tokens": self.max_batch_tokens >= 64,
            "--max-wait-ms": self.max_wait_ms >= 0, "--cache-ttl-s": self.cache_ttl_s >= 1,
            "--max-k": self.max_k >= 1, "--max-beam": self.max_beam >= 1, "--workers": self.workers >= 1,
            "--max-message-mb": 1 <= self.max_message_mb <= 2047, "--drain-s": self.drain_s >= 0,
            "--max-queue-tokens": self.max_queue_tokens is None or self.max_queue_tokens >= self.max_batch_tokens,
            "--max-concurrent-rpcs": self.max_concurrent_rpcs >= 1,
        }
        bad = [flag for flag, ok in checks.items() if not ok]
        if bad:
            raise KDError(f"invalid teacher settings: {', '.join(bad)} out of range (see --help)")
        if self.generate_engine not in GENERATE_ENGINES:
            raise KDError(f"--generate-engine {self.generate_engine!r}: choose one of {', '.join(GENERATE_ENGINES)}")
        if self.generate_quantization not in ("int8", "int16", "float32"):
            raise KDError(f"--generate-quantization {self.generate_quantization!r}: choose int8, int16 or float32")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise KDError(f"--metrics-port {self.metrics_port} is not a TCP port")

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * 1024 * 1024


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags; those with an environment fallback default to None and are resolved later."""
    parser.add_argument("--model", type=Path, required=True, help="Marian checkpoint or Hugging Face Marian folder")
    parser.add_argument("--port", type=int, default=50051, help="gRPC port (0 = any free port)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--redis-url", default=None, help="Redis cache, e.g. redis://host:6379/0 (env REDIS_URL)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics over HTTP on this port (env KD_TEACHER_METRICS_PORT)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (env KD_TEACHER_DEVICE)")
    parser.add_argument("--max-batch-tokens", type=int, default=None,
                        help="token budget of one request and of one model batch (env KD_TEACHER_MAX_BATCH_TOKENS)")
    parser.add_argument("--max-wait-ms", type=float, default=None,
                        help="longest a request waits for others to batch with (env KD_TEACHER_MAX_WAIT_MS)")
    parser.add_argument("--cache-ttl-s", type=int, default=None,
                        help="cache entry lifetime in seconds (env KD_TEACHER_CACHE_TTL_S)")
    parser.add_argument("--no-dynamic-batching", action="store_true",
                        help="run every request alone (for benchmarks; env KD_TEACHER_DYNAMIC_BATCHING=0)")
    parser.add_argument("--max-k", type=int, default=64, help="largest k TopK answers")
    parser.add_argument("--max-beam", type=int, default=16, help="largest beam size Generate answers")
    parser.add_argument("--max-message-mb", type=int, default=64, help="gRPC message size limit, both directions")
    parser.add_argument("--workers", type=int, default=16, help="gRPC handler threads")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (env KD_TEACHER_THREADS)")
    parser.add_argument("--drain-s", type=float, default=30.0, help="on SIGTERM, wait this long for in-flight requests")
    parser.add_argument("--max-queue-tokens", type=int, default=None,
                        help="tokens queued for the model before new requests are refused with RESOURCE_EXHAUSTED "
                             "and a retry hint (default 8 x --max-batch-tokens)")
    parser.add_argument("--max-concurrent-rpcs", type=int, default=64,
                        help="RPCs handled at once; more are refused at once with RESOURCE_EXHAUSTED (default 64)")
    parser.add_argument("--generate-engine", choices=GENERATE_ENGINES, default=None,
                        help="what runs Generate's beam search: the PyTorch model (default) or a CTranslate2 export "
                             "of it made at start-up, 2-3x faster on CPU (env KD_TEACHER_GENERATE_ENGINE)")
    parser.add_argument("--generate-quantization", choices=("int8", "int16", "float32"), default=None,
                        help="weights of the CTranslate2 Generate engine (default int8; env "
                             "KD_TEACHER_GENERATE_QUANTIZATION)")


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Resolve flags and environment fallbacks into a `ServerConfig`."""
    env = os.environ if environ is None else environ
    batching_env = _env(env, "KD_TEACHER_DYNAMIC_BATCHING", _parse_bool, True)
    return ServerConfig(
        model=args.model, port=args.port, host=args.host,
        redis_url=args.redis_url or env.get("REDIS_URL") or None,
        metrics_port=_pick(args.metrics_port, env, "KD_TEACHER_METRICS_PORT", int, None),
        device=_pick(args.device, env, "KD_TEACHER_DEVICE", str, "auto"),
        max_batch_tokens=_pick(args.max_batch_tokens, env, "KD_TEACHER_MAX_BATCH_TOKENS", int, 8192),
        max_wait_ms=_pick(args.max_wait_ms, env, "KD_TEACHER_MAX_WAIT_MS", float, 5.0),
        cache_ttl_s=_pick(args.cache_ttl_s, env, "KD_TEACHER_CACHE_TTL_S", int, 7 * 24 * 3600),
        dynamic_batching=batching_env and not args.no_dynamic_batching,
        max_k=args.max_k, max_beam=args.max_beam, max_message_mb=args.max_message_mb, workers=args.workers,
        threads=_pick(args.threads, env, "KD_TEACHER_THREADS", int, None), drain_s=args.drain_s,
        max_queue_tokens=args.max_queue_tokens, max_concurrent_rpcs=args.max_concurrent_rpcs,
        generate_engine=_pick(args.generate_engine, env, "KD_TEACHER_GENERATE_ENGINE", str, "torch"),
        generate_quantization=_pick(args.generate_quantization, env, "KD_TEACHER_GENERATE_QUANTIZATION", str, "int8"),
    )


def _pick(flag: T | None, env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    return flag if flag is not None else _env(env, name, parse, default)


def _env(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise KDError(f"environment variable {name}={raw!r} is not valid ({exc})") from exc


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("use 1/0, true/false, yes/no or on/off")
