"""HTTP routes: thin handlers that validate through the schemas and delegate to `Gateway`.

(No `from __future__ import annotations` here: FastAPI reads the request model, built at runtime from
the settings, from the handler's annotations.)
"""

from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Security
from fastapi.responses import FileResponse, Response
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST

from services.gateway.errors import error_responses
from services.gateway.schemas import (
    HealthResponse,
    ModelsResponse,
    ReadyResponse,
    ReloadResponse,
    TranslateResponse,
    translate_request_model,
)
from services.gateway.service import Gateway

STATIC_DIR = Path(__file__).parent / "static"
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="an API key (translation) or the admin key (admin endpoints)")


def add_routes(app: FastAPI, gateway: Gateway) -> None:
    """Attach every route of the gateway to `app`."""
    translate_request = translate_request_model(gateway.settings)

    def require_api_key(key: Annotated[str | None, Security(_api_key_header)]) -> None:
        gateway.check_api_key(key)

    def require_admin_key(key: Annotated[str | None, Security(_api_key_header)]) -> None:
        gateway.check_admin_key(key)

    guarded = [Depends(require_api_key)] if gateway.settings.api_keys else []

    @app.post("/v1/translate", tags=["translation"], dependencies=guarded,
              responses=error_responses(400, 401, 404, 413, 415, 422, 502, 503, 504))
    async def translate(body: translate_request) -> TranslateResponse:  # type: ignore[valid-type]
        """Translate one text (`text`) or several (`texts`); concurrent requests are batched together."""
        return await gateway.translate(body)

    @app.get("/v1/models", tags=["translation"], dependencies=guarded, responses=error_responses(401))
    async def models() -> ModelsResponse:
        """The served models with their size, quantization and BLEU."""
        return gateway.list_models()

    @app.post("/v1/admin/reload", tags=["admin"], dependencies=[Depends(require_admin_key)],
              responses=error_responses(401, 403))
    async def reload() -> ReloadResponse:
        """Rescan the models folder now; new and changed models are swapped in without dropping requests."""
        return await gateway.reload()

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> HealthResponse:
        """Liveness: the process answers."""
        return HealthResponse(status="ok")

    @app.get("/readyz", tags=["operations"], responses=error_responses(503))
    async def readyz() -> ReadyResponse:
        """Readiness: at least one model is loaded and the batch worker runs."""
        return gateway.readiness()

    @app.get("/metrics", tags=["operations"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format"}})
    async def metrics() -> Response:
        """Prometheus metrics (requests, latency, batch sizes, queue depth, model loads)."""
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")
