"""ASGI middleware that checks request bodies before FastAPI parses them.

It refuses bodies over the size limit (413, from `Content-Length` or while reading a stream), bodies
that are not JSON (415; the `form_paths` also take form bodies, as LibreTranslate's API does) and bodies
that are not valid UTF-8 (400, with the byte position), then replays the checked body to the application.
The answers come from `render` (by default `errors.error_response`, like every other error; the app passes
one that answers in LibreTranslate's shape on its routes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from services.gateway.errors import BadRequest, GatewayError, PayloadTooLarge, UnsupportedMediaType, error_response
from services.gateway.metrics import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
Render = Callable[[Scope, GatewayError], ASGIApp]


def _default_render(scope: Scope, exc: GatewayError) -> ASGIApp:
    return error_response(exc)


class BodyGuard:
    """Size, media-type and encoding checks for request bodies."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, form_paths: Collection[str] = (),
                 render: Render = _default_render) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.form_paths = frozenset(form_paths)
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            _check_body(scope, body, scope["path"] in self.form_paths)
        except GatewayError as exc:
            await self.render(scope, exc)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large(int(declared))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large(size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body has {size} bytes, more than the limit of "
                               f"{self.max_body_bytes}; send fewer or shorter texts per request")


def _check_body(scope: Scope, body: bytes, form_allowed: bool = False) -> None:
    if not body:
        return
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if content_type and not is_json and not (form_allowed and content_type in FORM_TYPES):
        also = " (or a form, application/x-www-form-urlencoded or multipart/form-data)" if form_allowed else ""
        raise UnsupportedMediaType(f"the body has Content-Type {content_type!r}; send JSON with the header "
                                   f"'Content-Type: application/json'{also}")
    if content_type == "multipart/form-data":
        return  # binary parts (files) need not be UTF-8; the form parser reads the text fields
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                         "encode the JSON as UTF-8") from exc


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
