"""LibreTranslate's request fields and answers, read and checked as LibreTranslate reads them.

A request comes as a JSON object or as a form (`application/x-www-form-urlencoded` or `multipart/form-data`,
plus the query string, as LibreTranslate's `request.values`). Unknown fields are ignored, as LibreTranslate
ignores them. Every problem is a `BadRequest` whose message starts like LibreTranslate's
(`Invalid request: ...`) and says what to send instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from services.gateway.errors import BadRequest
from services.gateway.settings import GatewaySettings

FORMATS = ("text", "html")


@dataclass(frozen=True)
class Fields:
    """The raw fields of a request: JSON values, or form values (a list where a name was repeated)."""

    values: Mapping[str, Any]
    form: bool

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def api_key(self) -> str | None:
        key = self.values.get("api_key")
        return key if isinstance(key, str) and key else None


@dataclass(frozen=True)
class TranslateRequest:
    """A checked `POST /translate`: `texts` in order, and whether `q` was a list (`batch`)."""

    texts: list[str]
    batch: bool
    source: str
    target: str
    text_format: str
    alternatives: int


def read_translate(fields: Fields, settings: GatewaySettings) -> TranslateRequest:
    """Check the fields of `POST /translate` against LibreTranslate's API and the gateway's limits."""
    q = fields.get("q")
    if q is None or q == "" or q == []:
        raise BadRequest("Invalid request: missing q parameter; send the text to translate as q (a string, or a "
                         "list of strings)")
    batch = isinstance(q, list)
    texts = q if batch else [q]
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest("Invalid request: q must be a string or a list of strings")
    if fields.form:  # line endings as LibreTranslate normalises form text
        texts = ["\n".join(t.splitlines()) for t in texts]
    if len(texts) > settings.max_texts:
        raise BadRequest(f"Invalid request: request ({len(texts)}) exceeds text limit ({settings.max_texts}); "
                         "send the texts over several requests")
    for i, text in enumerate(texts):
        _check_text(text, i if batch else None, settings.max_chars)
    return TranslateRequest(texts=list(texts), batch=batch, source=_language(fields, "source"),
                            target=_language(fields, "target"), text_format=_format(fields),
                            alternatives=_alternatives(fields, settings.max_beam - 1))


def read_detect(fields: Fields) -> str:
    """The text of `POST /detect`."""
    q = fields.get("q")
    if not isinstance(q, str) or not q:
        raise BadRequest("Invalid request: missing q parameter; send the text as q (a string)")
    return q


def _check_text(text: str, index: int | None, max_chars: int) -> None:
    where = "q" if index is None else f"q[{index}]"
    if len(text) > max_chars:
        raise BadRequest(f"Invalid request: {where} has {len(text)} characters, more than the limit of {max_chars}; "
                         "split it over several texts")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"Invalid request: {where} contains {text[exc.start]!r} (a lone surrogate), which is "
                         "not valid Unicode") from None


def _language(fields: Fields, name: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        raise BadRequest(f"Invalid request: missing {name} parameter; send a language code from GET /languages"
                         + (" or auto" if name == "source" else ""))
    if not isinstance(value, str):
        raise BadRequest(f"Invalid request: {name} must be a language code (a string) such as es")
    return value.strip()


def _format(fields: Fields) -> str:
    value = fields.get("format")
    if value is None or value == "":
        return "text"
    if value not in FORMATS:
        raise BadRequest(f"{value} format is not supported; send format text or html")
    return str(value)


def _alternatives(fields: Fields, most: int) -> int:
    value = fields.get("alternatives")
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
        raise BadRequest(f"Invalid request: alternatives must be a whole number from 0 to {most} (the gateway's "
                         f"largest beam is {most + 1}), got {value!r}")
    return value


class DetectedLanguage(BaseModel):
    confidence: float = Field(description="0-100")
    language: str


class Language(BaseModel):
    code: str
    name: str
    targets: list[str]


class NamedLanguage(BaseModel):
    code: str
    name: str


class FrontendLanguages(BaseModel):
    source: NamedLanguage
    target: NamedLanguage


class FrontendSettings(BaseModel):
    """What LibreTranslate's web page and some clients read before translating."""

    charLimit: int  # noqa: N815 - LibreTranslate's field names
    frontendTimeout: int  # noqa: N815
    apiKeys: bool  # noqa: N815
    keyRequired: bool  # noqa: N815
    suggestions: bool
    filesTranslation: bool  # noqa: N815
    supportedFilesFormat: list[str]  # noqa: N815
    language: FrontendLanguages
