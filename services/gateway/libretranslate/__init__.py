"""A LibreTranslate-compatible API on the gateway, so LibreTranslate clients can use the served students.

`POST /translate`, `POST /detect`, `GET /languages` and `GET /frontend/settings` as LibreTranslate documents
them (JSON and form bodies, `q` as a string or a list, `format` text or html, `alternatives`, `api_key`,
`source: auto`), with LibreTranslate's error shape. Keys, limits and batching are the gateway's own:
`engine.LibreTranslate` translates through `Gateway.translate_texts`, like `/v1/translate`.
"""

from services.gateway.libretranslate.api import libretranslate_router
from services.gateway.libretranslate.errors import PATHS, render_error

__all__ = ["PATHS", "libretranslate_router", "render_error"]
