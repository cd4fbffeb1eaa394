"""Request and response bodies of the REST API (they are also its OpenAPI schema).

The translation request is built from the settings, so the published schema states the real limits
(text length, number of texts, beam size, output length) and clients and fuzzers can rely on it.
Validation is strict: no silent coercion of `"2"` to `2`, no unknown fields, no null for a text.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from services.gateway.settings import GatewaySettings

# Whitespace as Python's str.isspace() and JavaScript's \s define it (their union), spelled out so that the
# published pattern means the same to every regex engine (JSON Schema patterns are ECMA 262 regexes).
_WHITESPACE = r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = f"[^{_WHITESPACE}]"
_NOT_BLANK = re.compile(NOT_BLANK)


def _check_text(text: str) -> str:
    if not _NOT_BLANK.search(text):
        raise ValueError("text is empty or only whitespace; send the text to translate")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text contains {text[exc.start]!r} (a lone surrogate), which is not valid Unicode"
                         ) from None
    return text


def _json_integer(value: Any) -> Any:
    """JSON Schema counts 2.0 as an integer; pass it on as 2 (strict validation still refuses "2" and 1.5)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def _publish_schema(schema: dict[str, Any]) -> None:
    """Exactly one of `text` / `texts`; optional fields have no `null` default in the published schema."""
    schema["oneOf"] = [{"required": ["text"]}, {"required": ["texts"]}]
    for prop in schema.get("properties", {}).values():
        if prop.get("default", 0) is None:
            del prop["default"]


class TranslateRequestBase(BaseModel):
    """Fields common to every translation request; `translate_request_model` adds the limits."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_publish_schema)

    text: str | None
    texts: list[str] | None
    model: str | None
    beam_size: int
    max_length: int
    truncate: bool
    iterations: int

    @model_validator(mode="after")
    def _exactly_one_input(self) -> TranslateRequestBase:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send exactly one of 'text' (a string) or 'texts' (a list of strings)")
        return self

    def inputs(self) -> list[str]:
        """The texts to translate, in order."""
        return [self.text] if self.text is not None else list(self.texts or [])


def translate_request_model(settings: GatewaySettings) -> type[TranslateRequestBase]:
    """The `TranslateRequest` model whose constraints are this gateway's limits."""
    text = Annotated[str, Field(min_length=1, max_length=settings.max_chars,
                                json_schema_extra={"pattern": NOT_BLANK}), AfterValidator(_check_text)]
    fields: dict[str, Any] = {
        "text": (text, Field(None, description="one text to translate")),  # type: ignore[valid-type]
        "texts": (list[text], Field(None, min_length=1, max_length=settings.max_texts,  # type: ignore[valid-type]
                                    description="several texts, translated in order")),
        "model": (str, Field(None, min_length=1, max_length=200,
                             description="model id from GET /v1/models; the default model if omitted")),
        "beam_size": (JsonInt, Field(1, ge=1, le=settings.max_beam,
                                     description="1 = greedy decoding; for a Mask-Predict model, the number of "
                                                 "length candidates")),
        "iterations": (JsonInt, Field(settings.max_iterations, ge=1, le=settings.max_iterations,
                                      description="Mask-Predict models only: refinement passes T (ignored by "
                                                  "autoregressive models)")),
        "max_length": (JsonInt, Field(settings.default_length, ge=1, le=settings.max_length,
                                  description="maximum output tokens, counting the end-of-sentence token")),
        "truncate": (bool, Field(False, description="translate only the start of a text longer than the model "
                                                    "reads (else such a text is a 422)")),
    }
    model: type[TranslateRequestBase] = create_model(  # type: ignore[call-overload]
        "TranslateRequest", __base__=TranslateRequestBase, **fields)
    return model


class Timings(BaseModel):
    """Where a request's time went, in milliseconds."""

    queue_ms: float = Field(description="waiting for a batch")
    compute_ms: float = Field(description="the batch's model time (shared with the batch's other requests)")
    total_ms: float = Field(description="from the request's validation to its answer")


class TranslateResponse(BaseModel):
    model: str = Field(description="id of the model that translated")
    backend: str = Field(description="ctranslate2 or pytorch")
    translations: list[str] = Field(description="one translation per input text, in order")
    translation: str | None = Field(None, description="the translation, when the request sent 'text'")
    truncated: list[bool] = Field(description="per input text: whether only its start was translated")
    timings: Timings


class ModelInfo(BaseModel):
    id: str = Field(description="the id to pass as 'model' (the folder name)")
    backend: str
    decoding: str = Field(description="autoregressive, or mask-predict (a non-autoregressive student)")
    quantization: str
    parameters: int
    bleu: float | None = Field(description="BLEU from the export or the checkpoint manifest, if measured")
    size_bytes: int
    vocab_fingerprint: str
    source_model_id: str = Field(description="model id recorded in the manifest")
    parent_teacher: str | None
    loaded_at: float
    default: bool


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    default_model: str | None
    errors: dict[str, str] = Field(description="model folders that failed to load, with the reason")


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    ready: bool
    models: int
    failed: list[str] = Field(default=[], description="model folders that failed to load (the reasons are in "
                                                      "GET /v1/models)")


class ReloadResponse(BaseModel):
    loaded: list[str]
    removed: list[str]
    failed: dict[str, str]
    unchanged: list[str]
