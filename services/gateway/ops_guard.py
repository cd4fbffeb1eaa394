"""ASGI middleware that puts the operations endpoints (`/metrics`, the API docs) behind the API keys.

Off by default: metrics and docs are what operators and client authors read, and a gateway on loopback
has nobody to hide them from. With `KD_GATEWAY_PRIVATE_OPS=1` (which needs `KD_GATEWAY_API_KEYS`), a
request for `/metrics`, `/docs`, `/redoc` or `/openapi.json` must carry one of the keys, in `X-API-Key`
or as `Authorization: Bearer <key>` (what a Prometheus scrape config sends), else it is a 401 like any
other unauthenticated request. The liveness and readiness probes stay open.
"""

from __future__ import annotations

from collections.abc import Callable

from services.gateway.errors import GatewayError, error_response
from services.gateway.metrics import ASGIApp, Receive, Scope, Send

PRIVATE_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class OperationsGuard:
    """Refuses requests for `PRIVATE_PATHS` unless `check(key)` accepts the key they carry."""

    def __init__(self, app: ASGIApp, check: Callable[[str | None], None]) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") in PRIVATE_PATHS:
            try:
                self.check(request_key(scope))
            except GatewayError as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def request_key(scope: Scope) -> str | None:
    """The key a request carries: `X-API-Key`, else the token of `Authorization: Bearer <token>`."""
    headers = dict(scope.get("headers") or [])
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1")
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
