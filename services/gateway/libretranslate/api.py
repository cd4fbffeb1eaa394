"""The LibreTranslate routes: thin handlers that read the body, check the key, and call `LibreTranslate`.

`POST /translate` and `POST /detect` take JSON or form bodies and the API key as `api_key` (in the body, as
LibreTranslate clients send it) or in `X-API-Key`; `GET /languages` and `GET /frontend/settings` are open, as
in LibreTranslate. The routes are left out of the gateway's OpenAPI schema: their contract is
LibreTranslate's published API (and which language codes are valid changes with the served models, which a
static schema cannot say); docs/gateway.md lists what is supported.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway.errors import BadRequest, Unauthorized
from services.gateway.libretranslate.engine import LibreTranslate
from services.gateway.libretranslate.errors import LibreTranslateRoute
from services.gateway.libretranslate.schemas import (
    DetectedLanguage,
    Fields,
    FrontendSettings,
    Language,
    read_detect,
    read_translate,
)
from services.gateway.service import Gateway

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def libretranslate_router(gateway: Gateway) -> APIRouter:
    """The router of the LibreTranslate-compatible API over `gateway`."""
    engine = LibreTranslate(gateway)
    router = APIRouter(route_class=LibreTranslateRoute, include_in_schema=False, tags=["libretranslate"])

    async def checked_fields(request: Request) -> Fields:
        fields = await read_fields(request)
        try:
            gateway.check_api_key(fields.api_key() or request.headers.get("x-api-key"))
        except Unauthorized:
            raise Unauthorized("Invalid API key: send one of the gateway's keys as api_key in the body (or in the "
                               "X-API-Key header)") from None
        return fields

    @router.post("/translate")
    async def translate(request: Request) -> JSONResponse:
        """Translate `q` (a string or a list) from `source` (or `auto`) to `target`."""
        fields = await checked_fields(request)
        return JSONResponse(await engine.translate(read_translate(fields, gateway.settings)))

    @router.post("/detect")
    async def detect(request: Request) -> list[DetectedLanguage]:
        """The language of `q`: the gateway's one source language."""
        read_detect(await checked_fields(request))
        return engine.detect()

    @router.api_route("/languages", methods=["GET", "POST"])  # older clients (argostranslate's) POST a form
    async def languages() -> list[Language]:
        """The languages of the served models, each with the target languages it translates to."""
        return engine.languages()

    @router.get("/frontend/settings")
    async def frontend_settings() -> FrontendSettings:
        """Limits and the default pair, for LibreTranslate's web page and clients."""
        return engine.frontend_settings()

    return router


async def read_fields(request: Request) -> Fields:
    """The request's fields: a JSON object, or a form merged over the query string (LibreTranslate's
    `request.values`); a name given several times in a form becomes a list."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not content_type and body.lstrip().startswith(b"{"):
        content_type = "application/json"  # a JSON body sent without its header
    if content_type not in FORM_TYPES and content_type:
        return Fields(_json_object(body), form=False)
    pairs: list[tuple[str, Any]] = list(request.query_params.multi_items())
    if content_type == "multipart/form-data":
        pairs += [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    elif content_type:  # urlencoded: read as UTF-8, raw or percent-encoded (Starlette would read raw bytes as Latin-1)
        pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return Fields({k: v if len(v) > 1 else v[0] for k, v in grouped.items()}, form=True)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body) if body else None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Invalid request: the body is not valid JSON ({exc.msg} at character {exc.pos}); send a "
                         "JSON object such as {\"q\": \"Hola\", \"source\": \"es\", \"target\": \"en\"}") from None
    if not isinstance(data, dict):
        raise BadRequest("Invalid JSON format: send a JSON object such as {\"q\": \"Hola\", \"source\": \"es\", "
                         "\"target\": \"en\"}")
    return data
