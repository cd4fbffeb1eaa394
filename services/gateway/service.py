"""The gateway's behaviour behind the HTTP handlers: translate, list models, readiness, reload.

`Gateway` owns the model registry, the batcher and the metrics, and runs their lifecycle (initial load,
folder polling, worker start and stop). The handlers in `api.py` only call its methods.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time

from s2s.errors import KDError
from services.gateway.backends import LoadedModel
from services.gateway.batcher import Batcher, BatchResult
from services.gateway.errors import Forbidden, InvalidInput, NotReady, TextTooLong, Unauthorized
from services.gateway.metrics import GatewayMetrics
from services.gateway.registry import ModelRegistry, ReloadReport
from services.gateway.schemas import (
    ModelInfo,
    ModelsResponse,
    ReadyResponse,
    ReloadResponse,
    Timings,
    TranslateRequestBase,
    TranslateResponse,
)
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class Gateway:
    """One gateway instance."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self.registry = ModelRegistry(settings.models_dir, settings.threads, settings.default_model,
                                      settings.settle_seconds)
        self.batcher = Batcher(settings.max_batch, settings.max_wait_ms, settings.queue_size, self.metrics)
        self._poll_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load every model folder, start the batch worker and the folder poll."""
        report = await self.registry.refresh()
        self._record(report)
        if not self.registry.models:
            log.warning("no model could be loaded from %s; /readyz answers 503 until one appears",
                        self.settings.models_dir)
        self.batcher.start()
        if self.settings.poll_seconds > 0:
            self._poll_task = asyncio.create_task(self._poll(), name="gateway-poll")

    async def stop(self) -> None:
        """Stop polling and the batch worker; a poll task that had failed is logged, never raised here."""
        if self._poll_task is not None:
            self._poll_task.cancel()
            try:
                await self._poll_task
            except asyncio.CancelledError:
                pass
            except Exception:  # noqa: BLE001 - shutting down: report it, and still stop the batcher
                log.exception("the models folder poll had stopped with an error")
        await self.batcher.stop()

    async def _poll(self) -> None:
        """Refresh every `poll_seconds` until cancelled; no failure ends the loop (the registry turns a bad
        folder into that folder's error; anything else, e.g. the models folder removed, is logged)."""
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            try:
                self._record(await self.registry.refresh(settle=True))
            except KDError as exc:
                log.warning("polling the models folder failed: %s", exc)
            except Exception:  # noqa: BLE001 - keep watching the folder whatever happened this time
                log.exception("polling the models folder failed")

    @property
    def polling(self) -> bool:
        """Whether the models folder is watched (always true when polling is off)."""
        return self._poll_task is None or not self._poll_task.done()

    def _record(self, report: ReloadReport) -> None:
        self.metrics.reloads.labels(result="loaded").inc(len(report.loaded))
        self.metrics.reloads.labels(result="failed").inc(len(report.failed))
        self.metrics.models_loaded.set(len(self.registry.models))

    async def translate(self, request: TranslateRequestBase) -> TranslateResponse:
        """Resolve the model, queue the texts for a batch, and answer with translations and timings."""
        started = time.perf_counter()
        model = self.registry.resolve(request.model)
        result, truncated = await self.translate_texts(model, request.inputs(), request.beam_size,
                                                       request.max_length, request.truncate, request.iterations)
        return TranslateResponse(
            model=model.id, backend=model.backend.name, translations=result.translations,
            translation=result.translations[0] if request.text is not None else None, truncated=truncated,
            timings=Timings(queue_ms=round(result.queue_ms, 3), compute_ms=round(result.compute_ms, 3),
                            total_ms=round((time.perf_counter() - started) * 1000, 3)))

    async def translate_texts(self, model: LoadedModel, texts: list[str], beam_size: int, max_length: int,
                              truncate: bool = False, iterations: int = 10,
                              nbest: int = 1) -> tuple[BatchResult, list[bool]]:
        """Check the texts' lengths and translate them in the shared batches (every API's one way in); with
        `nbest` > 1 the result also holds each text's other beam hypotheses. Returns which were truncated."""
        if nbest > 1 and model.backend.decoding != "autoregressive":
            raise InvalidInput(f"model {model.id} decodes with {model.backend.decoding}, which gives no alternative "
                               "translations; ask for none, or use an autoregressive model")
        truncated = self._check_lengths(model, texts, truncate)
        result = await self.batcher.submit(model, texts, beam_size, max_length, self.settings.request_timeout_s,
                                           iterations, nbest)
        return result, truncated

    @staticmethod
    def _check_lengths(model: LoadedModel, texts: list[str], truncate: bool) -> list[bool]:
        """Which texts are longer than the model reads; refused (422) unless the request allows truncation."""
        limit = model.backend.max_positions
        lengths = [model.backend.source_tokens(t) for t in texts]
        over = [i for i, n in enumerate(lengths) if n > limit]
        if over and not truncate:
            i = over[0]
            raise TextTooLong(f"text {i} is {lengths[i]} tokens long; model {model.id} reads at most {limit}: "
                              "split it into shorter pieces, or send \"truncate\": true to translate only its start",
                              details=[f"text {j}: {lengths[j]} tokens" for j in over])
        return [n > limit for n in lengths]

    def list_models(self) -> ModelsResponse:
        models, default = self.registry.models, self.registry.default_id()
        infos = [self._info(m, m.id == default) for _, m in sorted(models.items())]
        return ModelsResponse(models=infos, default_model=default, errors=dict(self.registry.errors))

    @staticmethod
    def _info(model: LoadedModel, default: bool) -> ModelInfo:
        m = model.manifest
        return ModelInfo(
            id=model.id, backend=model.backend.name, decoding=model.backend.decoding,
            quantization=model.backend.quantization,
            parameters=m.parameters, bleu=None if model.bleu is None else round(model.bleu, 2),
            size_bytes=model.size_bytes,
            vocab_fingerprint=m.vocab_fingerprint, source_model_id=m.model_id, parent_teacher=m.parent_teacher,
            loaded_at=model.loaded_at, default=default)

    def readiness(self) -> ReadyResponse:
        """Ready when at least one model is loaded, the batch worker runs and the folder is watched; else a
        503 that says what is wrong (model ids and reasons, never filesystem paths)."""
        count, errors = len(self.registry.models), dict(self.registry.errors)
        if not self.batcher.running:
            raise NotReady("the translation worker is not running")
        if not self.polling:
            raise NotReady("the models folder is no longer watched for new models; restart the gateway")
        if count == 0:
            reasons = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
            raise NotReady(f"no model loaded: {len(errors)} model folder(s) failed to load ({reasons})" if errors
                           else "no model loaded: the models folder holds no model yet; export one into it "
                                "with `kd export`")
        return ReadyResponse(ready=True, models=count, failed=sorted(errors))

    async def reload(self) -> ReloadResponse:
        """Rescan the models folder now and load what changed (the admin endpoint)."""
        report = await self.registry.refresh()
        self._record(report)
        return ReloadResponse(loaded=report.loaded, removed=report.removed, failed=report.failed,
                              unchanged=report.unchanged)

    def check_api_key(self, key: str | None) -> None:
        """Translation requests need one of the API keys, when keys are configured."""
        if self.settings.api_keys and not _matches(key, self.settings.api_keys):
            raise Unauthorized("missing or invalid API key; send it in the X-API-Key header")

    def check_admin_key(self, key: str | None) -> None:
        """Admin requests need the admin key; without one configured the admin endpoints are off."""
        if self.settings.admin_key is None:
            raise Forbidden("admin endpoints are disabled; start the gateway with KD_GATEWAY_ADMIN_KEY set")
        if not _matches(key, (self.settings.admin_key,)):
            raise Unauthorized("missing or invalid admin key; send it in the X-API-Key header")


def _matches(key: str | None, allowed: tuple[str, ...]) -> bool:
    if not key:
        return False
    given = key.encode("utf-8", "surrogateescape")
    return any(hmac.compare_digest(given, a.encode("utf-8")) for a in allowed)
