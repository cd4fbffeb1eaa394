"""The teacher engine: checks a request, answers what it can from the cache, batches the rest on the model.

Handlers call exactly one engine method per RPC with plain numpy inputs and get plain results back
(`Reply`: results in request order plus how many sentences came from the cache). TopK and Generate are
cached per sentence; Score is not (its candidates are the student's own samples and rarely repeat).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import numpy as np

from s2s.decoding import Hypothesis
from s2s.teacher import compute
from s2s.teacher.adapter import sources_from_texts, teacher_info, with_texts
from s2s.teacher.answers import TeacherAnswerError
from s2s.teacher.contract import SampledResult, TeacherInfo, TeacherInputError, TopKResult
from s2s.teacher.limits import (
    check_budget,
    check_candidates,
    check_generate,
    check_k,
    check_pairs,
    generate_cost,
    limits_for,
    pair_cost,
    score_cost,
)
from s2s.teacher.sampling import check_samples
from s2s.teacher.sampling import sample as sample_q
from services.teacher import cache_codec as codec
from services.teacher import sample_codec
from services.teacher.batcher import DynamicBatcher
from services.teacher.cache import ResultCache
from services.teacher.config import ServerConfig
from services.teacher.metrics import TeacherMetrics
from services.teacher.models import TeacherModels

log = logging.getLogger(__name__)
R = TypeVar("R")
_MAX_WAIT_S = 600.0


@dataclass(frozen=True)
class Reply(Generic[R]):
    """Per-sentence results in request order, and how many came from the cache or the model."""

    results: list[R]
    cache_hits: int = 0
    cache_misses: int = 0


@dataclass(frozen=True)
class ServerInfo:
    """What `Info` answers: the client-visible info plus the server's own identity details."""

    teacher: TeacherInfo
    teacher_id: str
    max_beam: int
    device: str
    engine: str = "torch"
    """What computes TopK and Score: `torch`, `ctranslate2-float32`, `ctranslate2-int8`."""


class TeacherEngine:
    """Validation, cache and batching around one loaded teacher (one model or an ensemble)."""

    def __init__(self, models: TeacherModels, config: ServerConfig, cache: ResultCache, metrics: TeacherMetrics,
                 device: str) -> None:
        tok = models.checkpoint.tokenizer
        self._models = models
        self._model = models.generator
        self._scorer = models.scorer
        self._tokenizer = tok
        self._ct2 = models.ct2_generator
        self._cache = cache
        self._metrics = metrics
        self.limits = limits_for(self._model, tok.vocab_size, config.max_k, config.max_beam, config.max_batch_tokens)
        teacher = replace(teacher_info(models.checkpoint, self.limits), model_id=models.model_id,
                          members=models.members)
        self._info = ServerInfo(teacher, models.teacher_id, config.max_beam, device, models.engine)
        # TopK answers are keyed by the engine that computed them, except PyTorch's (the keys they always had).
        self._topk_tag = "" if models.engine == "torch" else f":{models.engine}"
        self._batcher = DynamicBatcher(self._run, metrics, config.max_batch_tokens, config.max_wait_ms / 1000,
                                       config.dynamic_batching, config.max_queue_tokens)

    def info(self) -> ServerInfo:
        return self._info

    def topk(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], k: int,
             timeout_s: float | None = None) -> Reply[TopKResult]:
        """Top-k with remaining mass per target position, cached per sentence."""
        check_pairs(src, tgt, self.limits)
        check_k(k, self.limits)
        costs = self._charge("topk", [pair_cost(s, t) for s, t in zip(src, tgt, strict=True)])
        keys = [self._key("topk", codec.topk_params(k) + self._topk_tag, s, t) for s, t in zip(src, tgt, strict=True)]
        vocab = self.limits.vocab_size
        return self._cached("topk", k, keys, list(zip(src, tgt, strict=True)), costs, timeout_s,
                            lambda r: codec.encode_topk(r, vocab), codec.decode_topk,
                            lambda r, pair: codec.topk_fits(r, len(pair[1]), k, vocab))

    def sample(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], m: int, seed: int = 0,
               timeout_s: float | None = None) -> Reply[SampledResult]:
        """m draws from q per target position as distinct ids and counts, cached per sentence like TopK."""
        check_pairs(src, tgt, self.limits)
        check_samples(m)
        costs = self._charge("sample", [pair_cost(s, t) for s, t in zip(src, tgt, strict=True)])
        keys = [self._key("sample", sample_codec.sample_params(m, seed), s, t) for s, t in zip(src, tgt, strict=True)]
        vocab = self.limits.vocab_size
        return self._cached("sample", (m, seed), keys, list(zip(src, tgt, strict=True)), costs, timeout_s,
                            lambda r: sample_codec.encode_sampled(r, vocab), sample_codec.decode_sampled,
                            lambda r, pair: sample_codec.sampled_fits(r, len(pair[1]), m, vocab))

    def score(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], candidates: Sequence[np.ndarray],
              timeout_s: float | None = None) -> Reply[np.ndarray]:
        """log q of caller-chosen candidates per target position (not cached)."""
        check_pairs(src, tgt, self.limits)
        check_candidates(tgt, candidates, self.limits)
        costs = self._charge("score", [score_cost(s, t, c.shape[1])
                                        for s, t, c in zip(src, tgt, candidates, strict=True)])
        inputs = list(zip(src, tgt, candidates, strict=True))
        # Only requests of the same candidate width share a model batch: none is padded to another's width.
        width = max(c.shape[1] for c in candidates)
        return Reply(self._compute("score", width, inputs, sum(costs), timeout_s), 0, 0)

    def generate(self, src: Sequence[np.ndarray] | None, beam_size: int, nbest: int, max_len: int,
                 timeout_s: float | None = None, texts: Sequence[str] | None = None) -> Reply[list[Hypothesis]]:
        """Beam search n-best lists with their texts, cached per sentence; the sources come as ids or as
        `texts` (tokenised here, for callers with another vocabulary), exactly one of the two."""
        if src and texts:
            raise TeacherInputError("give the sources either as ids or as texts, not both")
        src = sources_from_texts(self._tokenizer, texts, self.limits) if texts else list(src or [])
        check_pairs(src, None, self.limits)
        check_generate(beam_size, nbest, max_len, self.limits)
        costs = self._charge("generate", [generate_cost(s, beam_size, max_len) for s in src])
        params = codec.generate_params(beam_size, nbest, max_len) + (f":{self._ct2.cache_tag}" if self._ct2 else "")
        keys = [self._key("generate", params, s, None) for s in src]
        vocab = self.limits.vocab_size
        reply = self._cached("generate", (beam_size, nbest, max_len), keys, list(src), costs, timeout_s,
                             lambda h: codec.encode_nbest(h, vocab), codec.decode_nbest,
                             lambda h, _src: codec.nbest_fits(h, nbest, max_len, vocab))
        return Reply(with_texts(self._tokenizer, reply.results), reply.cache_hits, reply.cache_misses)

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish queued model work and release the cache connection."""
        self._batcher.close(timeout_s)
        self._cache.close()
        self._models.close()

    def _charge(self, op: str, costs: list[int]) -> list[int]:
        check_budget(sum(costs), self.limits)
        self._metrics.request_tokens.labels(op).inc(sum(costs))
        return costs

    def _key(self, op: str, params: str, src: np.ndarray, tgt: np.ndarray | None) -> str:
        return codec.cache_key(self._info.teacher_id, self._info.teacher.vocab_fingerprint, op, params, src, tgt)

    def _cached(self, op: str, params: Hashable, keys: list[str], inputs: list[Any], costs: list[int],
                timeout_s: float | None, encode: Callable[[R], bytes], decode: Callable[[bytes], R],
                fits: Callable[[R, Any], bool]) -> Reply[R]:
        """Answers from the cache where a value is there and fits the request, the model for the rest.

        A value that does not decode, or decodes to something that does not answer the request (the wrong
        shape, ids outside the vocabulary or repeated, NaN or impossible log-probabilities: written by another
        version, damaged, or planted), is treated as a miss, counted, and overwritten with the computed answer.
        A computed answer that fails the same check is never cached, and a top-k one fails the request (the
        model computed NaN: it is broken)."""
        results: list[R | None] = [None] * len(keys)
        missing = []
        for i, value in enumerate(self._cache.get_many(keys)):
            try:
                results[i] = decode(value) if value is not None else None
            except codec.CacheValueError as exc:
                log.debug("ignoring unreadable cache value for %s: %s", keys[i], exc)
                self._metrics.cache_bad_values.labels(op).inc()
            if results[i] is not None and not fits(results[i], inputs[i]):  # type: ignore[arg-type]
                log.debug("ignoring a cache value for %s that does not fit the request", keys[i])
                self._metrics.cache_bad_values.labels(op).inc()
                results[i] = None
            if results[i] is None:
                missing.append(i)
        self._metrics.cache_hits.labels(op).inc(len(keys) - len(missing))
        self._metrics.cache_misses.labels(op).inc(len(missing))
        if missing:
            computed = self._compute(op, params, [inputs[i] for i in missing], sum(costs[i] for i in missing),
                                     timeout_s)
            fresh = {}
            for i, result in zip(missing, computed, strict=True):
                results[i] = result
                if fits(result, inputs[i]):
                    fresh[keys[i]] = encode(result)
                elif op == "topk":
                    raise TeacherAnswerError(f"the teacher model computed an invalid top-k answer for sentence {i} "
                                             "(NaN or impossible log-probabilities); the model is broken")
            self._cache.put_many(fresh)
        return Reply([r for r in results if r is not None], len(keys) - len(missing), len(missing))

    def _compute(self, op: str, params: Hashable, inputs: list[Any], tokens: int, timeout_s: float | None) -> list[Any]:
        future = self._batcher.submit(op, params, inputs, tokens)
        try:
            return future.result(timeout=min(timeout_s, _MAX_WAIT_S) if timeout_s is not None else _MAX_WAIT_S)
        except FutureTimeout:
            future.cancel()
            raise

    def _run(self, op: str, params: Any, inputs: list[Any]) -> list[Any]:
        """Run one merged batch on the model (called by the batcher's worker thread only)."""
        pad, budget = self._info.teacher.pad_id, compute.forward_tokens(self._scorer, self.limits.max_batch_tokens)
        if op == "topk":
            return compute.topk(self._scorer, [s for s, _ in inputs], [t for _, t in inputs], params, pad, budget)
        if op == "sample":
            return self._run_sample(inputs, params, pad, budget)
        if op == "score":
            return compute.score(self._scorer, [s for s, _, _ in inputs], [t for _, t, _ in inputs],
                                 [c for _, _, c in inputs], pad, budget)
        beam_size, nbest, max_len = params
        if self._ct2 is not None:
            return self._ct2.model.nbest([[int(x) for x in s] for s in inputs], beam_size, nbest, max_len)
        return compute.nbest(self._model, inputs, pad, beam_size, nbest, max_len, self.limits.max_batch_tokens,
                             self._tokenizer.forced_bos_id)

    def _run_sample(self, inputs: list[Any], params: tuple[int, int], pad: int, budget: int) -> list[SampledResult]:
        m, seed = params
        return sample_q(self._scorer, [s for s, _ in inputs], [t for _, t in inputs], m, seed, pad, budget)
