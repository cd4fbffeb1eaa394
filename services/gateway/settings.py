"""Gateway settings: one frozen dataclass, filled from `KD_GATEWAY_*` environment variables and flags.

Command-line flags win over the environment, the environment over the defaults. Every bad value is
refused at startup with the variable's name and what it should look like, never later in a request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from s2s.errors import KDError
from s2s.secret_files import refuse_placeholder

ENV_PREFIX = "KD_GATEWAY_"


@dataclass(frozen=True)
class GatewaySettings:
    """Everything that shapes the gateway's behaviour; see docs/gateway.md for each field."""

    models_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()
    admin_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_batch: int = 32
    max_wait_ms: float = 5.0
    queue_size: int = 256
    max_texts: int = 64
    max_chars: int = 2000
    max_body_bytes: int = 1_048_576
    max_beam: int = 8
    max_length: int = 256
    max_iterations: int = 10
    default_max_length: int | None = None
    poll_seconds: float = 2.0
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    default_model: str | None = None
    request_timeout_s: float = 60.0
    settle_seconds: float = 2.0
    public_address: str | None = None
    allow_anonymous: bool = False
    private_ops: bool = False

    def __post_init__(self) -> None:
        positive = ("port", "max_batch", "queue_size", "max_texts", "max_chars", "max_body_bytes",
                    "max_beam", "max_length", "threads", "max_iterations")
        for name in positive:
            if getattr(self, name) < 1:
                raise KDError(f"gateway setting {name} must be at least 1, got {getattr(self, name)}")
        self._check_exposure()
        if self.settle_seconds < 0:
            raise KDError(f"gateway setting settle_seconds must not be negative, got {self.settle_seconds}")
        if self.request_timeout_s <= 0:
            raise KDError(f"gateway setting request_timeout_s must be positive, got {self.request_timeout_s}")
        if self.max_wait_ms < 0 or self.poll_seconds < 0:
            raise KDError("gateway settings max_wait_ms and poll_seconds must not be negative")
        if self.default_max_length is not None and not 1 <= self.default_max_length <= self.max_length:
            raise KDError(f"default_max_length must be between 1 and max_length ({self.max_length}), "
                          f"got {self.default_max_length}")

    def _check_exposure(self) -> None:
        """Refuse placeholder keys, and serving the network without API keys unless anonymity is chosen."""
        for name, values in (("api_keys", self.api_keys), ("admin_key", (self.admin_key or "",))):
            for value in values:
                refuse_placeholder(value, f"gateway setting {ENV_PREFIX}{name.upper()}")
        if self.private_ops and not self.api_keys:
            raise KDError(f"{ENV_PREFIX}PRIVATE_OPS puts /metrics and /docs behind the API keys, but no keys are "
                          f"set: set {ENV_PREFIX}API_KEYS too")
        address = self.public_address or self.host
        if not self.api_keys and not self.allow_anonymous and not _loopback(address):
            raise KDError(f"the gateway would serve {address} without API keys: set {ENV_PREFIX}API_KEYS, or start "
                          f"it with --allow-anonymous ({ENV_PREFIX}ALLOW_ANONYMOUS=1) to translate for anyone who "
                          "can reach it")

    @property
    def default_length(self) -> int:
        """Output length of a request that sets no `max_length`: the setting, else 128 capped by max_length."""
        return self.default_max_length or min(128, self.max_length)


def _loopback(address: str) -> bool:
    return address in ("localhost", "::1") or address.startswith("127.")


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use 1/0, true/false, yes/no or on/off")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _optional(value: str) -> str | None:
    return value or None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "models_dir": Path, "host": str, "port": int, "api_keys": _csv, "admin_key": _optional,
    "cors_origins": _csv, "max_batch": int, "max_wait_ms": float, "queue_size": int, "max_texts": int,
    "max_chars": int, "max_body_bytes": int, "max_beam": int, "max_length": int, "max_iterations": int,
    "default_max_length": int, "poll_seconds": float, "threads": int, "default_model": _optional,
    "request_timeout_s": float, "settle_seconds": float, "public_address": _optional, "allow_anonymous": _bool,
    "private_ops": _bool,
}


def settings_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> GatewaySettings:
    """Settings from `KD_GATEWAY_<FIELD>` variables, then `overrides` (flags; None means "not given")."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(GatewaySettings):
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = _parse(f.name, raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "models_dir" not in values:
        raise KDError(f"no models folder: pass --models DIR or set {ENV_PREFIX}MODELS_DIR")
    return GatewaySettings(**values)


def _parse(name: str, raw: str) -> Any:
    try:
        return _PARSERS[name](raw.strip())
    except ValueError as exc:
        kind = _PARSERS[name].__name__.lstrip("_")
        raise KDError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind} ({exc})") from exc

