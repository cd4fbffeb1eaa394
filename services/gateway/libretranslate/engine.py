"""LibreTranslate's behaviour on top of the gateway: language pairs, routing, segments and alternatives.

The pairs come from the served models' manifests (`s2s.checkpoint.model_languages`); a model whose manifest
names no languages is not offered here (it stays on `/v1/translate`). A pair is served by the default model
when it covers the pair, else by the first model (by id) that does, so one gateway can serve several pairs.
`source: auto` is the gateway's only source language when it has one, and refused otherwise: the gateway
does not guess languages. Translation goes through `Gateway.translate_texts`, so keys, limits and batching
are those of `/v1/translate`: all segments of a request (lines, HTML text nodes, list items) are one job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s2s.checkpoint import model_languages
from s2s.languages import display_name
from services.gateway.backends import LoadedModel
from services.gateway.errors import BadRequest
from services.gateway.libretranslate.markup import Fits, SegmentTooLong, Template, template
from services.gateway.libretranslate.schemas import (
    DetectedLanguage,
    FrontendLanguages,
    FrontendSettings,
    Language,
    NamedLanguage,
    TranslateRequest,
)
from services.gateway.service import Gateway

AUTO = "auto"


@dataclass(frozen=True)
class Pair:
    """A language pair and the served model that translates it."""

    source: str
    target: str
    model_id: str


class LibreTranslate:
    """The LibreTranslate API's operations, on one `Gateway`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def pairs(self) -> list[Pair]:
        """Every served pair once, routed to the default model where it covers the pair."""
        models = self.gateway.registry.models
        default = self.gateway.registry.default_id()
        order = sorted(models, key=lambda model_id: (model_id != default, model_id))
        found: dict[tuple[str, str], Pair] = {}
        for model_id in order:
            pair = model_languages(models[model_id].manifest)
            if pair is not None and pair not in found:
                found[pair] = Pair(pair[0], pair[1], model_id)
        return list(found.values())

    def languages(self) -> list[Language]:
        """`GET /languages`: every language the served models translate from or to, with its targets."""
        pairs = self.pairs()
        codes = {p.source for p in pairs} | {p.target for p in pairs}
        return [Language(code=c, name=display_name(c), targets=sorted(p.target for p in pairs if p.source == c))
                for c in sorted(codes, key=display_name)]

    def frontend_settings(self) -> FrontendSettings:
        """`GET /frontend/settings`: the gateway's limits, and the default pair for a client's first screen."""
        settings, pairs = self.gateway.settings, self.pairs()
        source, target = (pairs[0].source, pairs[0].target) if pairs else (AUTO, AUTO)
        return FrontendSettings(
            charLimit=settings.max_chars, frontendTimeout=500, apiKeys=bool(settings.api_keys),
            keyRequired=bool(settings.api_keys), suggestions=False, filesTranslation=False, supportedFilesFormat=[],
            language=FrontendLanguages(source=_named(source), target=_named(target)))

    def route(self, source: str, target: str) -> tuple[LoadedModel, str]:
        """The model for (source, target) and the source language (resolved when it is `auto`)."""
        pairs = self.pairs()
        if not pairs:
            raise BadRequest("this gateway serves no model whose languages are known; export one with `kd export "
                             "--src-lang .. --tgt-lang ..` (see docs/gateway.md), or use /v1/translate")
        sources = sorted({p.source for p in pairs})
        if source == AUTO:
            if len(sources) > 1:
                raise BadRequest(f"source auto needs a gateway that translates from one language; this one translates "
                                 f"from {', '.join(sources)}: name the source language")
            source = sources[0]
        known = set(sources) | {p.target for p in pairs}
        for code in (source, target):
            if code not in known:
                raise BadRequest(f"{code} is not supported; this gateway translates {_describe(pairs)} "
                                 "(see GET /languages)")
        pair = next((p for p in pairs if (p.source, p.target) == (source, target)), None)
        if pair is None:
            raise BadRequest(f"{display_name(target)} ({target}) is not available as a target language from "
                             f"{display_name(source)} ({source}); this gateway translates {_describe(pairs)}")
        return self.gateway.registry.resolve(pair.model_id), source

    def detect(self) -> list[DetectedLanguage]:
        """`POST /detect`: the gateway's one source language (it does not guess among several)."""
        sources = sorted({p.source for p in self.pairs()})
        if len(sources) != 1:
            raise BadRequest("language detection needs a gateway that translates from one language; this one "
                             f"translates from {', '.join(sources) or 'none'}: name the source language")
        return [DetectedLanguage(confidence=100.0, language=sources[0])]

    async def translate(self, request: TranslateRequest) -> dict[str, Any]:
        """`POST /translate`: LibreTranslate's answer (`translatedText`, and `alternatives` and
        `detectedLanguage` when asked for)."""
        model, source = self.route(request.source, request.target)
        limit = model.backend.max_positions

        def fits(text: str) -> bool:
            return model.backend.source_tokens(text) <= limit

        templates = [self._template(text, request.text_format, fits, i if request.batch else None, limit)
                     for i, text in enumerate(request.texts)]
        segments = [s for t in templates for s in t.segments]
        nbest = request.alternatives + 1
        best: list[str] = []
        others: list[list[str]] = []
        if segments:
            settings = self.gateway.settings
            result, _ = await self.gateway.translate_texts(model, segments, nbest, settings.default_length,
                                                           nbest=nbest)
            best, others = result.translations, result.alternatives or [[] for _ in segments]
        texts, alternatives, offset = [], [], 0
        for t in templates:
            n = len(t.segments)
            texts.append(t.fill(best[offset:offset + n]))
            alternatives.append(_alternatives(t, best[offset:offset + n], others[offset:offset + n], texts[-1]))
            offset += n
        answer: dict[str, Any] = {"translatedText": texts if request.batch else texts[0]}
        if request.alternatives:
            answer["alternatives"] = alternatives if request.batch else alternatives[0]
        if request.source == AUTO:
            detected = DetectedLanguage(confidence=100.0, language=source).model_dump()
            answer["detectedLanguage"] = [detected] * len(texts) if request.batch else detected
        return answer

    @staticmethod
    def _template(text: str, text_format: str, fits: Fits, index: int | None, limit: int) -> Template:
        try:
            return template(text, text_format, fits)
        except SegmentTooLong as exc:
            where = "q" if index is None else f"q[{index}]"
            raise BadRequest(f"Invalid request: a sentence of {where} is longer than the model reads ({limit} "
                             f"tokens): {exc.text[:60]!r}...; split it into shorter sentences") from None


def _alternatives(t: Template, best: list[str], others: list[list[str]], main: str) -> list[str]:
    """Alternative k of a text is its segments' k-th other hypotheses (the best one where a segment has
    fewer); duplicates and copies of the main translation are left out."""
    out: list[str] = []
    for k in range(max((len(o) for o in others), default=0)):
        text = t.fill([o[k] if k < len(o) else b for b, o in zip(best, others, strict=True)])
        if text != main and text not in out:
            out.append(text)
    return out


def _named(code: str) -> NamedLanguage:
    return NamedLanguage(code=code, name="Auto Detect" if code == AUTO else display_name(code))


def _describe(pairs: list[Pair]) -> str:
    return ", ".join(f"{p.source}->{p.target}" for p in pairs)
