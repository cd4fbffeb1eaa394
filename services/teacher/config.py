"""Settings of the teacher server, each declared once: its type, default, flag, environment variable, help.

`ServerConfig` is the one declaration, through `s2s.settings`: its fields generate the command-line flags
(shared by `python -m services.teacher` and `kd teacher serve`, so both accept exactly the same), name the
environment variable of each (`KD_TEACHER_<NAME>`, and `REDIS_URL`) and the table in docs/teacher.md.
Precedence: flag, then environment variable, then the field's default. Bad values are refused at start-up
naming the flag and the variable.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from s2s.errors import KDError
from s2s.languages import Languages
from s2s.settings import add_arguments, describe, env_of, from_args, setting
from s2s.teacher.limits import DEFAULT_BATCH_TOKENS, DEFAULT_MAX_BEAM, DEFAULT_MAX_K

GENERATE_ENGINES = ("torch", "ctranslate2")
ENGINES = ("torch", "ctranslate2")
QUANTIZATIONS = ("int8", "int16", "float32")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the teacher server needs to start."""

    ENV_PREFIX = "KD_TEACHER_"

    model: tuple[Path, ...] = setting(
        (), "teacher model folder: a checkpoint, or a Hugging Face folder of a supported family (Marian/opus-mt, "
            "T5/mT5, mBART-50, M2M100/NLLB); repeat it to serve an ensemble, whose answers are the weighted mean "
            "of the models' probabilities (they must share one vocabulary)", env=None, required=True,
        metavar="DIR")
    weights: str | None = setting(None, "an ensemble's mixture weights, one per --model in order, e.g. 0.7,0.3 "
                                        "(normalised to sum to one; default: equal weights)")
    src_lang: str | None = setting(None, "source language of a multilingual teacher (ISO code such as es, or the "
                                         "model's own code such as spa_Latn)")
    tgt_lang: str | None = setting(None, "target language of a multilingual teacher (as --src-lang)")
    prefix: str | None = setting(None, "task prefix of a T5 teacher (default: derived from the languages, e.g. "
                                       "'translate Spanish to English: ')")
    port: int = setting(50051, "gRPC port (0 = any free port)")
    host: str = setting("127.0.0.1", "address to listen on, gRPC and metrics (0.0.0.0 in containers)")
    redis_url: str | None = setting(None, "Redis cache, e.g. redis://host:6379/0", env="REDIS_URL")
    redis_url_file: Path | None = setting(None, "file holding the Redis URL (with its password): a mounted secret")
    tls_cert: Path | None = setting(None, "PEM certificate (chain) to serve gRPC over TLS (with --tls-key)")
    tls_key: Path | None = setting(None, "PEM private key of --tls-cert")
    auth_token_file: Path | None = setting(None, "file holding a shared token every teacher RPC must send as "
                                                 "'authorization: Bearer <token>' (health checks excepted)")
    metrics_port: int | None = setting(None, "serve Prometheus metrics over HTTP on this port")
    device: str = setting("auto", "auto, cpu, cuda or cuda:N")
    max_batch_tokens: int = setting(DEFAULT_BATCH_TOKENS, "token budget of one request and of one model batch")
    max_wait_ms: float = setting(5.0, "longest a request waits for others to batch with")
    dynamic_batching: bool = setting(True, "merge concurrent requests into one model run (--no-dynamic-batching: "
                                           "run every request alone, the benchmark baseline)")
    cache_ttl_s: int = setting(7 * 24 * 3600, "cache entry lifetime in seconds")
    cache_retry_s: float = setting(2.0, "after a Redis failure, seconds before the cache is tried again")
    max_k: int = setting(DEFAULT_MAX_K, "largest k TopK answers")
    max_beam: int = setting(DEFAULT_MAX_BEAM, "largest beam size Generate answers")
    max_message_mb: int = setting(64, "gRPC message size limit, both directions")
    workers: int = setting(16, "gRPC handler threads")
    threads: int | None = setting(None, "torch CPU threads (default: all cores)")
    drain_s: float = setting(30.0, "on SIGTERM, wait this long for in-flight requests")
    max_queue_tokens: int | None = setting(None, "tokens queued for the model before new requests are refused "
                                                 "with RESOURCE_EXHAUSTED and a retry hint (default 8 x "
                                                 "max batch tokens)")
    max_concurrent_rpcs: int = setting(64, "RPCs handled at once; more are refused at once with RESOURCE_EXHAUSTED")
    generate_engine: str = setting("torch", "what runs Generate's beam search: the PyTorch model, or a "
                                            "CTranslate2 export of it made at start-up (2-3x faster on CPU)",
                                   choices=GENERATE_ENGINES)
    generate_quantization: str = setting("int8", "weights of the CTranslate2 Generate engine", choices=QUANTIZATIONS)
    engine: str = setting("torch", "what computes TopK and Score: the PyTorch model, or CTranslate2 exports of it "
                                   "made at start-up (same answers in float32; see docs/teacher.md)", choices=ENGINES)
    engine_quantization: str = setting("float32", "weights of the CTranslate2 TopK/Score engine (int8 is faster "
                                                  "and shifts the distributions slightly)", choices=QUANTIZATIONS)

    def __post_init__(self) -> None:
        folders = (self.model,) if isinstance(self.model, (str, Path)) else self.model
        object.__setattr__(self, "model", tuple(Path(m) for m in folders))
        checks = {
            "port": 0 <= self.port <= 65535, "max_batch_tokens": self.max_batch_tokens >= 64,
            "max_wait_ms": self.max_wait_ms >= 0, "cache_ttl_s": self.cache_ttl_s >= 1,
            "max_k": self.max_k >= 1, "max_beam": self.max_beam >= 1, "workers": self.workers >= 1,
            "max_message_mb": 1 <= self.max_message_mb <= 2047, "drain_s": self.drain_s >= 0,
            "max_queue_tokens": self.max_queue_tokens is None or self.max_queue_tokens >= self.max_batch_tokens,
            "max_concurrent_rpcs": self.max_concurrent_rpcs >= 1, "cache_retry_s": self.cache_retry_s >= 0,
            "metrics_port": self.metrics_port is None or 0 <= self.metrics_port <= 65535,
            "threads": self.threads is None or self.threads >= 1,
            "generate_engine": self.generate_engine in GENERATE_ENGINES,
            "generate_quantization": self.generate_quantization in QUANTIZATIONS,
            "engine": self.engine in ENGINES, "engine_quantization": self.engine_quantization in QUANTIZATIONS,
        }
        bad = [describe(ServerConfig, name) for name, ok in checks.items() if not ok]
        if bad:
            raise KDError(f"invalid teacher settings: {', '.join(bad)} out of range (see --help)")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise KDError("--tls-cert and --tls-key go together: give both to serve over TLS, or neither")
        if self.redis_url and self.redis_url_file:
            raise KDError("give the Redis URL once: --redis-url (REDIS_URL) or --redis-url-file, not both")
        self._check_ensemble()

    def _check_ensemble(self) -> None:
        resolved = [m.resolve() for m in self.model]
        twice = sorted({str(m) for m in self.model if resolved.count(m.resolve()) > 1})
        if twice:
            raise KDError(f"--model {twice[0]} is given twice; to count one model more, use --weights")
        self.mixture_weights  # noqa: B018 - refuses bad --weights at start-up
        if len(self.model) > 1 and self.generate_engine == "ctranslate2":
            raise KDError("--generate-engine ctranslate2 decodes one model; an ensemble's Generate runs its own beam "
                          "search on PyTorch: drop --generate-engine (or serve one --model)")

    @property
    def mixture_weights(self) -> tuple[float, ...]:
        """The members' weights from `--weights`, normalised (equal when not given); bad values are refused."""
        n = max(len(self.model), 1)
        if self.weights is None or not self.weights.strip():
            return tuple(1.0 / n for _ in range(n))
        try:
            values = [float(part) for part in self.weights.split(",")]
        except ValueError as exc:
            raise KDError(f"--weights {self.weights!r} ({env_of(ServerConfig, 'weights')}): write one number per "
                          "--model, separated by commas, e.g. 0.5,0.5") from exc
        if len(values) != n:
            raise KDError(f"--weights {self.weights!r} gives {len(values)} weights for {n} --model folders; "
                          "give one per model")
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise KDError(f"--weights {self.weights!r}: every weight must be a positive number")
        return tuple(v / sum(values) for v in values)

    @property
    def languages(self) -> Languages:
        """The direction a multilingual teacher serves (unset parts come from the model's manifest)."""
        return Languages(self.src_lang, self.tgt_lang, self.prefix)

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * 1024 * 1024


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (default None: resolved later against the environment and the default)."""
    add_arguments(parser, ServerConfig)


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Flags, then environment variables, then defaults, into a `ServerConfig`."""
    return from_args(ServerConfig, args, environ)
