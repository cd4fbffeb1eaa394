"""Transport security of the teacher: optional TLS and a shared-token check, and secret files.

TLS (`--tls-cert`/`--tls-key`) encrypts gRPC; the token (`--auth-token-file`) authenticates callers:
every RPC of `kd.teacher.v1.Teacher` must carry `authorization: Bearer <token>` in its metadata, or it is
refused with UNAUTHENTICATED. Health checks and reflection stay open (probes cannot send metadata, and
they reveal nothing). Secrets are read from files (Docker and Kubernetes secrets), never from the command
line, where every process on the host could read them; a placeholder value is refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from s2s.errors import KDError
from s2s.secret_files import PLACEHOLDER, read_secret, refuse_placeholder

__all__ = ["PLACEHOLDER", "TokenCheck", "read_secret", "refuse_placeholder", "server_credentials"]

_PROTECTED_PREFIX = "/kd.teacher.v1.Teacher/"


def server_credentials(cert: Path, key: Path) -> grpc.ServerCredentials:
    """TLS credentials from a PEM certificate (chain) and its private key."""
    try:
        return grpc.ssl_server_credentials([(Path(key).read_bytes(), Path(cert).read_bytes())])
    except OSError as exc:
        raise KDError(f"cannot read the TLS certificate or key ({exc}); check --tls-cert and --tls-key") from exc


class TokenCheck(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses teacher RPCs whose `authorization` metadata is not `Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def refuse(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing or wrong teacher token: send 'authorization: Bearer <token>' "
                          "(TeacherClient: token= or KD_TEACHER_TOKEN_FILE)")

        self._refusal = grpc.unary_unary_rpc_method_handler(refuse)

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        if not details.method.startswith(_PROTECTED_PREFIX):
            return continuation(details)
        sent = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(str(sent).encode(), self._expected):
            return continuation(details)
        return self._refusal
