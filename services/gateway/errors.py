"""The one place where failures become HTTP answers.

Handlers and services raise `GatewayError` subclasses (each names its status code) or let FastAPI and
pydantic raise theirs; `install_error_handlers` turns all of them into `{"error": {...}}` bodies whose
message says what was wrong and what to do. Anything unexpected becomes a logged 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """The body of every error answer."""

    code: str
    message: str
    details: list[str] = []


class ErrorResponse(BaseModel):
    error: ErrorDetail


class GatewayError(Exception):
    """A failure with a known HTTP status; `code` is a stable machine-readable name."""

    status = 500
    code = "internal"

    def __init__(self, message: str, details: Sequence[str] = (), headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.headers = headers or {}


class BadRequest(GatewayError):
    status, code = 400, "bad_request"


class Unauthorized(GatewayError):
    status, code = 401, "unauthorized"


class Forbidden(GatewayError):
    status, code = 403, "forbidden"


class UnknownModel(GatewayError):
    status, code = 404, "unknown_model"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status, code = 415, "unsupported_media_type"


class InvalidInput(GatewayError):
    status, code = 422, "invalid_input"


class TextTooLong(GatewayError):
    status, code = 422, "text_too_long"


class TranslationFailed(GatewayError):
    status, code = 502, "translation_failed"


class TimedOut(GatewayError):
    status, code = 504, "timed_out"


class Overloaded(GatewayError):
    status, code = 503, "overloaded"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class NotReady(GatewayError):
    status, code = 503, "not_ready"

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
               502: "translation_failed", 504: "timed_out"}

# Hints appended to pydantic's own messages, keyed by pydantic error type.
_HINTS = {
    "string_too_long": "split the text into shorter pieces",
    "too_long": "split the texts over several requests",
    "missing": "see the schema at /docs",
    "extra_forbidden": "remove this field; see the schema at /docs",
}


def error_response(exc: GatewayError) -> JSONResponse:
    """The JSON answer for a `GatewayError` (also used by middleware that runs outside FastAPI)."""
    body = ErrorResponse(error=ErrorDetail(code=exc.code, message=exc.message, details=exc.details))
    return JSONResponse(body.model_dump(), status_code=exc.status, headers=exc.headers)


def describe_validation_errors(errors: Sequence[Any]) -> list[str]:
    """Readable lines such as `texts[3]: String should have at most 2000 characters (split ...)`."""
    lines = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p != "body"]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "body"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        hint = _HINTS.get(str(err.get("type")))
        lines.append(f"{where}: {msg}" + (f" ({hint})" if hint else ""))
    return lines


def _validation_error(errors: Sequence[Any]) -> GatewayError:
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = next(e.get("ctx", {}) for e in errors if e.get("type") == "json_invalid")
        where = next(e.get("loc", ("body", "?"))[-1] for e in errors if e.get("type") == "json_invalid")
        return BadRequest(f"the body is not valid JSON ({ctx.get('error', 'parse error')} at character "
                          f"{where}); send a JSON object such as {{\"text\": \"Hola\"}}")
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return InvalidInput("the request body is empty; send a JSON object such as {\"text\": \"Hola\"}")
    lines = describe_validation_errors(errors)
    return InvalidInput("invalid request: " + "; ".join(lines[:5]), details=lines)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that map every error to its status code and message."""

    async def on_gateway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        return error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(_validation_error(exc.errors()))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        err = GatewayError(str(exc.detail), headers=dict(exc.headers or {}))
        err.status, err.code = exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            err.message = f"the body is not valid UTF-8 ({exc.__cause__.reason} at byte {exc.__cause__.start})"
        return error_response(err)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error while serving %s %s", request.method, request.url.path)
        return error_response(GatewayError("internal error; the gateway logged the details"))

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses (all share `ErrorResponse`)."""
    return {s: {"model": ErrorResponse, "description": _HTTP_CODES.get(s, "error").replace("_", " ")}
            for s in statuses}
