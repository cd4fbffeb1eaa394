"""The worker's one connection to the teacher, and the tensors made from the teacher's answers.

The teacher is either the gRPC service (`teacher_client.TeacherClient` over `teacher.endpoints`) or a
model folder loaded in this process (`s2s.local_teacher.InProcessTeacher`, for benchmarks and the exact
full-vocabulary KA), or a teacher-output store (`teacher.store`, `student_trainer.store_teacher`), alone or in
front of either of them for what it lacks. All have the same methods; the trainer codes against
`TeacherAPI`. Before step 1 the vocabulary fingerprints of student and teacher are compared, and a mismatch
stops the run.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import torch

from s2s.errors import VocabularyMismatchError
from s2s.teacher.sampling import positions
from student_trainer.recipe import TeacherSpec

T = TypeVar("T")


class TeacherAPI(Protocol):
    """What the trainer needs of a teacher (implemented by TeacherClient and InProcessTeacher)."""

    def info(self) -> Any: ...
    def check_compatible(self, vocab_fingerprint: str) -> Any: ...
    def topk_async(self, src: Any, tgt: Any, k: int) -> Future[Any]: ...
    def sample_async(self, src: Any, tgt: Any, m: int, seed: int = 0) -> Future[Any]: ...
    def score_async(self, src: Any, tgt: Any, candidates: Any) -> Future[Any]: ...
    def generate(self, src: Any, beam_size: int, nbest: int, max_len: int) -> Any: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


def open_teacher(spec: TeacherSpec) -> TeacherAPI:
    """A client for the configured teacher (imported lazily: NLL runs need neither gRPC nor a model); with
    `teacher.store`, the store, asking that teacher (if any) only for what the store lacks."""
    live = open_live_teacher(spec) if spec.endpoints or spec.in_process else None
    if not spec.store:
        assert live is not None, "recipe validation guarantees endpoints, in_process or store"
        return live
    from student_trainer.store_teacher import StoreTeacher

    try:
        return StoreTeacher(spec.store, live)
    except BaseException:
        if live is not None:
            live.close()
        raise


def open_live_teacher(spec: TeacherSpec) -> TeacherAPI:
    """The teacher service's client or the in-process teacher the spec names."""
    if spec.in_process:
        from s2s.local_teacher import InProcessTeacher

        return InProcessTeacher(spec.in_process)
    from teacher_client import TeacherClient

    assert spec.endpoints, "recipe validation guarantees endpoints or in_process"
    return TeacherClient(spec.endpoints, timeout_s=spec.timeout_s, retries=spec.retries,
                         retry_budget_s=spec.retry_budget_s)


def connect_checked(spec: TeacherSpec, vocab_fingerprint: str) -> tuple[TeacherAPI, Any]:
    """Open the teacher and refuse it (VocabularyMismatchError) unless it shares the student's vocabulary."""
    teacher = open_teacher(spec)
    try:
        info = teacher.check_compatible(vocab_fingerprint)
    except VocabularyMismatchError as exc:
        teacher.close()
        raise VocabularyMismatchError(
            f"{exc}. Word-level objectives (Word-KD, KA, JSD, TIE-KD, on-policy KA) compare the student's and the "
            "teacher's distributions token by token and need one vocabulary. Across vocabularies, distil at the "
            "sequence level: `kd distill-data --teacher HOST:PORT --data TRAIN.tsv --out DIR` (the teacher "
            "translates the corpus), then train with loss.kind=nll on DIR/seq_kd.tsv (recipe seq_kd), as "
            "`kd up` does for a student with its own vocabulary") from exc
    except BaseException:
        teacher.close()
        raise
    return teacher, info


class WaitClock:
    """Seconds the training loop spent blocked on teacher answers (what prefetching tries to hide)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wait(self, future: Future[T]) -> T:
        start = time.perf_counter()
        try:
            return future.result()
        finally:
            self.seconds += time.perf_counter() - start


@dataclass(frozen=True)
class TopKTensors:
    """The teacher's TopK answer for a batch, padded to [B, T, k] (ids, log q) and [B, T] (rest mass)."""

    ids: torch.Tensor
    logq: torch.Tensor
    rest_logmass: torch.Tensor


def topk_tensors(results: list[Any], length: int, device: torch.device) -> TopKTensors:
    """Stack per-sentence TopK results (each [T_i, k]) into padded tensors of target length `length`."""
    k = results[0].ids.shape[1]
    ids = np.zeros((len(results), length, k), dtype=np.int64)
    logq = np.zeros((len(results), length, k), dtype=np.float32)
    rest = np.full((len(results), length), -np.inf, dtype=np.float32)
    for i, r in enumerate(results):
        n = r.ids.shape[0]
        ids[i, :n], logq[i, :n], rest[i, :n] = r.ids, r.logq, r.rest_logmass
    return TopKTensors(torch.from_numpy(ids).to(device), torch.from_numpy(logq).to(device),
                       torch.from_numpy(rest).to(device))


@dataclass(frozen=True)
class SampledTensors:
    """The teacher's sampled signal for a batch, padded to [B, T, c] (c: the most distinct ids at a position):
    the drawn ids and their counts (0 where padded)."""

    ids: torch.Tensor
    counts: torch.Tensor


def sampled_tensors(results: list[Any], length: int, device: torch.device) -> SampledTensors:
    """Spread per-sentence sampled answers (distinct ids and counts, position after position) over [B, T, c]."""
    places = []
    for r in results:
        pos = positions(r.counts, r.m)
        places.append((pos, np.arange(len(pos)) - np.searchsorted(pos, pos)))  # rank within its position
    width = max((int(rank.max()) + 1 for _, rank in places if len(rank)), default=1)
    ids = np.zeros((len(results), length, width), dtype=np.int64)
    counts = np.zeros((len(results), length, width), dtype=np.float32)
    for i, (r, (pos, rank)) in enumerate(zip(results, places, strict=True)):
        ids[i, pos, rank], counts[i, pos, rank] = r.ids, r.counts
    return SampledTensors(torch.from_numpy(ids).to(device), torch.from_numpy(counts).to(device))


def candidate_arrays(cand_ids: torch.Tensor, lengths: list[int]) -> list[np.ndarray]:
    """The per-sentence [T_i, c] candidate ids to send to `Score`, from padded [B, T, c] ids."""
    host = cand_ids.detach().cpu().numpy()
    return [host[i, :n] for i, n in enumerate(lengths)]


def candidate_logq(results: list[np.ndarray], shape: tuple[int, int, int], device: torch.device) -> torch.Tensor:
    """The `Score` answers (each [T_i, c]) padded back to [B, T, c] float32."""
    out = np.zeros(shape, dtype=np.float32)
    for i, r in enumerate(results):
        out[i, : r.shape[0]] = r
    return torch.from_numpy(out).to(device)


def cache_counts(stats: dict[str, Any]) -> tuple[int, int]:
    """(cache hits, cache misses) from a teacher's `stats()` (zeros when it has no cache)."""
    return int(stats.get("cache_hits", 0)), int(stats.get("cache_misses", 0))
