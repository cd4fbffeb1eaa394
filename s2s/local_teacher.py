"""`InProcessTeacher`: the teacher API of `teacher_client.TeacherClient`, run on a model in this process.

Same methods, arguments, results and errors as the gRPC client, so trainers, tests and benchmarks can
swap one for the other. No batching across callers, no cache, no network: requests larger than the token
budget are split into chunks instead of being refused.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from s2s.checkpoint import Checkpoint, check_fingerprint, load_checkpoint
from s2s.decoding import Hypothesis
from s2s.device import pick_placement
from s2s.languages import Languages
from s2s.teacher import compute, sampling
from s2s.teacher.adapter import sources_from_texts, teacher_info, with_texts
from s2s.teacher.answers import check_scores, check_topk
from s2s.teacher.contract import SampledResult, TeacherInfo, TopKResult
from s2s.teacher.identity import teacher_id
from s2s.teacher.limits import (
    DEFAULT_BATCH_TOKENS,
    DEFAULT_MAX_BEAM,
    DEFAULT_MAX_K,
    as_ids,
    check_candidates,
    check_generate,
    check_k,
    check_pairs,
    limits_for,
)


class InProcessTeacher:
    """A teacher model loaded in this process, behind the `TeacherClient` API."""

    def __init__(self, model: str | Path | Checkpoint, device: str = "auto",
                 max_batch_tokens: int = DEFAULT_BATCH_TOKENS, max_k: int = DEFAULT_MAX_K,
                 max_beam: int = DEFAULT_MAX_BEAM, workers: int = 2, languages: Languages | None = None) -> None:
        if isinstance(model, Checkpoint):
            self.checkpoint = model
        else:
            placement = pick_placement(device)
            self.checkpoint = load_checkpoint(Path(model), device=placement.device, dtype=placement.dtype,
                                              languages=languages)
        tok = self.checkpoint.tokenizer
        self._model = self.checkpoint.model
        self.limits = limits_for(self._model, tok.vocab_size, max_k, max_beam, max_batch_tokens)
        self._info = dataclasses.replace(teacher_info(self.checkpoint, self.limits),
                                         teacher_id=teacher_id(self.checkpoint.manifest.model_id, self.checkpoint.path))
        self._forward_tokens = compute.forward_tokens(self._model, max_batch_tokens)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inproc-teacher")
        self._lock = threading.Lock()
        self._stats: dict[str, float] = {"requests": 0, "sentences": 0, "rpcs": 0, "errors": 0, "retries": 0,
                                         "overloads": 0, "failovers": 0, "cache_hits": 0, "cache_misses": 0,
                                         "teacher_wait_s": 0.0}

    def info(self) -> TeacherInfo:
        """Identity and limits of the loaded model."""
        return self._info

    def check_compatible(self, vocab_fingerprint: str) -> TeacherInfo:
        """The info, after checking the caller's vocabulary is the teacher's (else VocabularyMismatchError)."""
        check_fingerprint(vocab_fingerprint, self._info.vocab_fingerprint, "student vocabulary",
                          f"teacher {self._info.model_id}")
        return self._info

    def topk(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], k: int) -> list[TopKResult]:
        """Per target position the top-k ids, their log q and the log of the remaining mass."""
        with self._call(len(src)):
            s, t = self._pairs(src, tgt)
            check_k(k, self.limits)
            results = compute.topk(self._model, s, t, k, self._info.pad_id, self._forward_tokens)
            check_topk(results, [len(x) for x in t], k, self.limits.vocab_size, f"teacher {self._info.model_id}")
            return results

    def sample(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], m: int,
               seed: int = 0) -> list[SampledResult]:
        """Per target position m draws from q, as distinct ids with their counts (the teacher service's draws)."""
        with self._call(len(src)):
            s, t = self._pairs(src, tgt)
            sampling.check_samples(m)
            return sampling.sample(self._model, s, t, m, seed, self._info.pad_id, self._forward_tokens)

    def score(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
              candidates: Sequence[np.ndarray]) -> list[np.ndarray]:
        """log q of `candidates[i]` ([len(tgt[i]), c]) at every position of sentence i."""
        with self._call(len(src)):
            s, t = self._pairs(src, tgt)
            cands = [as_ids(c, f"sentence {i}: candidates", ndim=2) for i, c in enumerate(candidates)]
            check_candidates(t, cands, self.limits)
            results = compute.score(self._model, s, t, cands, self._info.pad_id, self._forward_tokens)
            check_scores(results, [(int(c.shape[0]), int(c.shape[1])) for c in cands], f"teacher {self._info.model_id}")
            return results

    def generate(self, src: Sequence[Sequence[int]], beam_size: int, nbest: int,
                 max_len: int) -> list[list[Hypothesis]]:
        """Beam search n-best lists for every source."""
        with self._call(len(src)):
            s = [as_ids(x, f"sentence {i}: source") for i, x in enumerate(src)]
            check_pairs(s, None, self.limits)
            check_generate(beam_size, nbest, max_len, self.limits)
            hyps = compute.nbest(self._model, s, self._info.pad_id, beam_size, nbest, max_len,
                                 self.limits.max_batch_tokens, self.checkpoint.tokenizer.forced_bos_id)
            return with_texts(self.checkpoint.tokenizer, hyps)

    def generate_text(self, texts: Sequence[str], beam_size: int, nbest: int,
                      max_len: int) -> list[list[Hypothesis]]:
        """Beam search n-best lists for sources given as text (tokenised here), each with its text."""
        src = sources_from_texts(self.checkpoint.tokenizer, texts, self.limits)
        return self.generate([s.tolist() for s in src], beam_size, nbest, max_len)

    def topk_async(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
                   k: int) -> Future[list[TopKResult]]:
        return self._pool.submit(self.topk, src, tgt, k)

    def sample_async(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], m: int,
                     seed: int = 0) -> Future[list[SampledResult]]:
        return self._pool.submit(self.sample, src, tgt, m, seed)

    def score_async(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
                    candidates: Sequence[np.ndarray]) -> Future[list[np.ndarray]]:
        return self._pool.submit(self.score, src, tgt, candidates)

    def generate_async(self, src: Sequence[Sequence[int]], beam_size: int, nbest: int,
                       max_len: int) -> Future[list[list[Hypothesis]]]:
        return self._pool.submit(self.generate, src, beam_size, nbest, max_len)

    def stats(self) -> dict[str, Any]:
        """Calls, sentences, errors and seconds spent in teacher calls (no cache or retries in-process)."""
        with self._lock:
            return dict(self._stats)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> InProcessTeacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pairs(self, src: Sequence[Sequence[int]],
               tgt: Sequence[Sequence[int]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        s = [as_ids(x, f"sentence {i}: source") for i, x in enumerate(src)]
        t = [as_ids(x, f"sentence {i}: target") for i, x in enumerate(tgt)]
        check_pairs(s, t, self.limits)
        return s, t

    @contextmanager
    def _call(self, sentences: int) -> Iterator[None]:
        start = time.perf_counter()
        failed = False
        try:
            yield
        except Exception:
            failed = True
            raise
        finally:
            with self._lock:
                self._stats["requests"] += 1
                self._stats["sentences"] += sentences
                self._stats["errors"] += int(failed)
                self._stats["teacher_wait_s"] += time.perf_counter() - start

