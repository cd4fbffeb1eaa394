"""Building the FastAPI application: lifecycle, middleware, error handlers, routes and the static page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from services.gateway.api import STATIC_DIR, add_routes
from services.gateway.body_guard import BodyGuard
from services.gateway.errors import install_error_handlers
from services.gateway.libretranslate import PATHS as LIBRETRANSLATE_PATHS
from services.gateway.libretranslate import libretranslate_router, render_error
from services.gateway.metrics import MetricsMiddleware
from services.gateway.ops_guard import OperationsGuard
from services.gateway.service import Gateway
from services.gateway.settings import GatewaySettings

DESCRIPTION = """Translates text with small distilled students served through CTranslate2.

Send `{"text": "..."}` or `{"texts": [...]}` to `POST /v1/translate`; concurrent requests are batched.
Errors answer `{"error": {"code", "message", "details"}}` with a 4xx status that says what was wrong,
or 503 with `Retry-After` when the gateway is overloaded. A page for people is at `/`.

LibreTranslate clients can use the gateway as their server: `POST /translate`, `POST /detect`,
`GET /languages` and `GET /frontend/settings` follow LibreTranslate's API (see docs/gateway.md).
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    """The gateway application; models load when the server starts (the lifespan), not here."""
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(title="kd translation gateway", version="1.0.0", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.gateway = gateway
    install_error_handlers(app)
    add_routes(app, gateway)
    app.include_router(libretranslate_router(gateway))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes, form_paths=LIBRETRANSLATE_PATHS,
                       render=render_error)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"],
                           max_age=600)
    if settings.private_ops:
        app.add_middleware(OperationsGuard, check=gateway.check_api_key)
    app.add_middleware(MetricsMiddleware, metrics=gateway.metrics)
    return app
