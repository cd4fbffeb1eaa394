"""The one place where failures on the LibreTranslate routes become LibreTranslate's error answers.

LibreTranslate answers `{"error": "message"}` with 400 for a bad request (unknown language, missing or empty
`q`, too many texts, a text over the limit), 403 for a missing or wrong API key, 429 when the server is
over its limit and 500 when the translation itself failed. The gateway's own errors (`GatewayError`) are
mapped onto those codes here; the few LibreTranslate has no word for keep the gateway's code (413 body too
large, 415 media type, 503 not ready, 504 time limit). `LibreTranslateRoute` applies the mapping to every
handler of the router, and `render_error` to the body checks that run before FastAPI (`BodyGuard`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from services.gateway.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    InvalidInput,
    Overloaded,
    TextTooLong,
    TranslationFailed,
    Unauthorized,
    UnknownModel,
    error_response,
)
from services.gateway.metrics import Scope

log = logging.getLogger(__name__)

PATHS = frozenset({"/translate", "/languages", "/frontend/settings", "/detect"})

# Gateway error class -> LibreTranslate status; anything not listed keeps its own status.
_STATUS: dict[type[GatewayError], int] = {
    BadRequest: 400, InvalidInput: 400, TextTooLong: 400, UnknownModel: 400,
    Unauthorized: 403, Forbidden: 403, Overloaded: 429, TranslationFailed: 500,
}


class LtError(BaseModel):
    """The body of every LibreTranslate error answer."""

    error: str


def lt_error_response(exc: GatewayError) -> JSONResponse:
    """LibreTranslate's answer for `exc`: `{"error": message}` with LibreTranslate's status code."""
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), exc.status)
    message = exc.message
    if status == 429:
        message = f"Slowdown: {message}"
    elif isinstance(exc, TranslationFailed):
        message = f"Cannot translate text: {message}"
    return JSONResponse(LtError(error=message).model_dump(), status_code=status, headers=exc.headers)


def render_error(scope: Scope, exc: GatewayError) -> JSONResponse:
    """The error answer in the shape of the API the request went to (used by middleware)."""
    return lt_error_response(exc) if scope.get("path") in PATHS else error_response(exc)


class LibreTranslateRoute(APIRoute):
    """A route whose failures answer in LibreTranslate's shape (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except GatewayError as exc:
                return lt_error_response(exc)
            except HTTPException as exc:  # e.g. a form body python-multipart cannot parse
                return lt_error_response(BadRequest(f"Invalid request: {exc.detail}"))
            except Exception:
                log.exception("unexpected error while serving %s %s", request.method, request.url.path)
                return lt_error_response(GatewayError("internal error; the gateway logged the details"))

        return guarded
