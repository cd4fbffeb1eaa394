"""The teacher contract: what every teacher answers with and the errors it raises.

The teacher service computes these on its batches, `InProcessTeacher` directly; `teacher_client` returns
and raises the same types, so both teachers are interchangeable. Transports map the error kinds to their
own status codes (the gRPC service in `services.teacher.status`, its client in `teacher_client`); this
layer names none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from s2s.errors import KDError


@dataclass(frozen=True)
class TeacherMember:
    """One model of an ensemble teacher: its id, its weight in the mixture and its own cache namespace."""

    model_id: str
    weight: float
    teacher_id: str = ""


MAX_SAMPLES = 255
"""Most draws per position a sampled answer may hold: counts travel in 8 bits."""


@dataclass(frozen=True)
class TeacherInfo:
    """Identity and limits of a teacher; `vocab_fingerprint` must equal the student's."""

    model_id: str
    vocab_size: int
    vocab_fingerprint: str
    pad_id: int
    eos_id: int
    max_source_len: int
    max_target_len: int
    max_k: int
    max_batch_tokens: int
    family: str = "marian"
    src_lang: str | None = None
    tgt_lang: str | None = None
    members: tuple[TeacherMember, ...] = ()
    """The models of an ensemble teacher, whose answers are their weighted mean (empty for one model)."""
    teacher_id: str = ""  # model id + weights digest (`s2s.teacher.identity`): whose answers a store or cache holds


@dataclass(frozen=True, eq=False)
class TopKResult:
    """Top-k of one sentence: `ids` [T,k] int64 (best first), `logq` [T,k] float32, `rest_logmass` [T]
    float32 = log(1 - sum of the top-k probabilities) (-inf when k covers the vocabulary)."""

    ids: np.ndarray
    logq: np.ndarray
    rest_logmass: np.ndarray


@dataclass(frozen=True, eq=False)
class SampledResult:
    """m tokens drawn from q at every target position of one sentence, as distinct ids with their counts.

    `ids` [N] int64 and `counts` [N] int64 (each >= 1) list position 0's distinct ids (ascending), then
    position 1's, ...; the counts of every position sum to `m`, so the positions need no separate lengths
    (`s2s.teacher.sampling.positions`). `counts / m` is an unbiased estimate of q at that position."""

    ids: np.ndarray
    counts: np.ndarray
    m: int

    @property
    def length(self) -> int:
        """Target positions covered (the counts sum to m at each)."""
        return int(self.counts.sum()) // self.m if self.m else 0


@dataclass(frozen=True)
class Signal:
    """A teacher answer on fixed targets, the kind a trainer can request ahead and a store can keep: TopK of
    width `size` (with the rest mass), or `size` = m draws from q per position (`SampledResult`)."""

    kind: Literal["topk", "sampled"]
    size: int
    seed: int = 0  # the draws' seed (sampled only)

    def describe(self) -> str:
        return (f"top-{self.size} + rest mass" if self.kind == "topk"
                else f"sampled, m = {self.size} draws per position (seed {self.seed})")


class TeacherError(KDError):
    """A teacher request failed. Transports map the kinds below to their own status codes (the gRPC
    service in `services.teacher.status`, its client in `teacher_client`); this layer names none."""


class TeacherInputError(TeacherError):
    """The request itself is wrong (ids, shapes, lengths, k, beam); resending it cannot succeed."""


class TeacherLimitError(TeacherError):
    """The request is valid but larger than the teacher accepts in one piece; split it."""


class TeacherOverloadedError(TeacherError):
    """The teacher's queue is full: the same request succeeds later (after `retry_after_s`) or elsewhere."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TeacherUnavailableError(TeacherError):
    """The teacher cannot take requests now (it is shutting down); another replica can."""
