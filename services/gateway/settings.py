"""Gateway settings, each declared once (through `s2s.settings`): default, help, flag and `KD_GATEWAY_*` variable.

Command-line flags win over the environment, the environment over the defaults. The API keys and the admin
key are secrets: they come from `KD_GATEWAY_API_KEYS` / `KD_GATEWAY_ADMIN_KEY`, from the files that
`..._FILE` variables name, or from `--api-keys-file` / `--admin-key-file`, never from a command line. Every bad
value is refused at startup naming its flag and variable and what it should look like, never later in a
request. docs/gateway.md's settings table is generated from this declaration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2s.errors import KDError
from s2s.secret_files import refuse_placeholder
from s2s.settings import REQUIRED, Computed, describe, env_of, flag_of, from_env, setting


def _cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class GatewaySettings:
    """Everything that shapes the gateway's behaviour."""

    ENV_PREFIX = "KD_GATEWAY_"

    models_dir: Path = setting(REQUIRED, "folder whose sub-folders are served models (exports or checkpoints); "
                                         "it may also be one model folder itself", flag="--models", metavar="DIR",
                               required="models folder")
    host: str = setting("127.0.0.1", "address to listen on (0.0.0.0 in containers, with --public-address)")
    port: int = setting(8000, "port to listen on")
    api_keys: tuple[str, ...] = setting((), "API keys, comma- or line-separated: when set, /v1/translate and "
                                            "/v1/models need one of them in X-API-Key, and LibreTranslate's "
                                            "/translate and /detect in api_key (or X-API-Key); none: no key needed",
                                        secret=True)
    admin_key: str | None = setting(None, "key of the admin endpoints such as POST /v1/admin/reload (in "
                                          "X-API-Key); none: admin endpoints off (403)", secret=True)
    cors_origins: tuple[str, ...] = setting((), "origins allowed to call the API from a browser (CORS); the "
                                                "variable takes them comma-separated", metavar="ORIGIN")
    max_batch: int = setting(32, "most texts in one backend call")
    max_wait_ms: float = setting(5.0, "the longest a batch waits for the requests of the previous batch to come "
                                      "back; a lone request never waits (docs/gateway.md, batching)")
    queue_size: int = setting(256, "queued requests before answering 503")
    max_texts: int = setting(64, "most texts per request (LibreTranslate: the longest q list)")
    max_chars: int = setting(2000, "most characters per text (LibreTranslate: per q entry; charLimit in "
                                   "/frontend/settings)")
    max_body_bytes: int = setting(1_048_576, "largest request body in bytes (413 past it)")
    max_beam: int = setting(8, "largest beam_size of a request")
    max_length: int = setting(256, "largest max_length of a request")
    max_iterations: int = setting(10, "largest (and default) iterations of a Mask-Predict request")
    default_max_length: int | None = setting(None, "max_length of a request that sets none (default: 128, capped "
                                                   "by --max-length)")
    poll_seconds: float = setting(2.0, "models folder poll period in seconds; 0 turns polling off")
    threads: int = setting(Computed(_cores, "all cores"), "CPU threads of each CTranslate2 model")
    default_model: str | None = setting(None, "model of a request that names none (default: the first id)")
    request_timeout_s: float = setting(60.0, "time limit of one translation request in seconds (504 past it)")
    settle_seconds: float = setting(2.0, "while polling, a new or changed model folder is loaded once unchanged "
                                         "for two polls and for this many seconds (a slow copy is not read "
                                         "half-written)")
    public_address: str | None = setting(None, "the address the gateway is published on, when that is not --host "
                                               "(a container listening on 0.0.0.0 published on 127.0.0.1); "
                                               "a non-loopback one without API keys is refused")
    allow_anonymous: bool = setting(False, "serve a non-loopback address without API keys (refused otherwise)")
    private_ops: bool = setting(False, "put /metrics, /docs, /redoc and /openapi.json behind the API keys too (in "
                                       "X-API-Key, or Authorization: Bearer <key> as a Prometheus scrape sends it); "
                                       "needs API keys. /healthz and /readyz stay open for probes")

    def __post_init__(self) -> None:
        positive = ("port", "max_batch", "queue_size", "max_texts", "max_chars", "max_body_bytes",
                    "max_beam", "max_length", "threads", "max_iterations")
        for name in positive:
            if getattr(self, name) < 1:
                raise KDError(f"gateway setting {name} must be at least 1, got {getattr(self, name)} "
                              f"({describe(GatewaySettings, name)})")
        self._check_exposure()
        for name in ("settle_seconds", "max_wait_ms", "poll_seconds"):
            if getattr(self, name) < 0:
                raise KDError(f"gateway setting {name} must not be negative, got {getattr(self, name)} "
                              f"({describe(GatewaySettings, name)})")
        if self.request_timeout_s <= 0:
            raise KDError(f"gateway setting request_timeout_s must be positive, got {self.request_timeout_s} "
                          f"({describe(GatewaySettings, 'request_timeout_s')})")
        if self.default_max_length is not None and not 1 <= self.default_max_length <= self.max_length:
            raise KDError(f"default_max_length must be between 1 and max_length ({self.max_length}), "
                          f"got {self.default_max_length} ({describe(GatewaySettings, 'default_max_length')})")

    def _check_exposure(self) -> None:
        """Refuse placeholder keys, and serving the network without API keys unless anonymity is chosen."""
        env = {name: env_of(GatewaySettings, name) for name in ("api_keys", "admin_key", "private_ops",
                                                                "allow_anonymous")}
        for name, values in (("api_keys", self.api_keys), ("admin_key", (self.admin_key or "",))):
            for value in values:
                refuse_placeholder(value, f"gateway setting {env[name]}")
        if self.private_ops and not self.api_keys:
            raise KDError(f"{env['private_ops']} puts /metrics and /docs behind the API keys, but no keys are set: "
                          f"set {env['api_keys']} (or {flag_of(GatewaySettings, 'api_keys')}) too")
        address = self.public_address or self.host
        if not self.api_keys and not self.allow_anonymous and not _loopback(address):
            anonymous = flag_of(GatewaySettings, "allow_anonymous")
            raise KDError(f"the gateway would serve {address} without API keys: set {env['api_keys']}, or start "
                          f"it with {anonymous} ({env['allow_anonymous']}=1) to translate for anyone who can reach it")

    @property
    def default_length(self) -> int:
        """Output length of a request that sets no `max_length`: the setting, else 128 capped by max_length."""
        return self.default_max_length or min(128, self.max_length)


def _loopback(address: str) -> bool:
    return address in ("localhost", "::1") or address.startswith("127.")


def settings_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> GatewaySettings:
    """Settings from `KD_GATEWAY_<FIELD>` variables, then `overrides` (values a caller sets; None: not set)."""
    return from_env(GatewaySettings, env, **{k: v for k, v in overrides.items() if v is not None})
