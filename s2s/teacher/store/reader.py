"""`TeacherStore`: the read side of a teacher-output store.

Opening a store reads its manifest, checks every shard's size and sha256 (a damaged shard is named and the
store refused, so nothing is ever trained through it), maps the shards and sorts an index of their sentence
keys. A lookup hashes the sentence's ids, finds its row by binary search and returns the stored answer as
the teacher would have (`TopKResult` or `SampledResult`), after checking the values are sound for that
sentence; a sentence the store lacks is None, for the caller to ask a live teacher.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from s2s.errors import VocabularyMismatchError
from s2s.teacher.answers import sampled_problem, topk_problem
from s2s.teacher.contract import SampledResult, TopKResult
from s2s.teacher.identity import sentence_hash
from s2s.teacher.store.manifest import Identity, Signal, StoreCorruptError, StoreMismatchError, read_manifest
from s2s.teacher.store.shards import KEY_BYTES, Result, ShardView

log = logging.getLogger(__name__)


def sentence_key(src: Sequence[int] | np.ndarray, tgt: Sequence[int] | np.ndarray) -> bytes:
    """The 16-byte key a store files a sentence pair's answer under."""
    return sentence_hash(np.asarray(src, dtype=np.int64), np.asarray(tgt, dtype=np.int64))[:KEY_BYTES]


class TeacherStore:
    """The answers of a store folder, looked up by sentence (see the module docstring)."""

    def __init__(self, folder: str | Path, verify: bool = True) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.identity: Identity = self.manifest.identity
        self.signal: Signal = self.identity.signal
        self._shards = [ShardView.open(self.folder, entry, self.signal, verify) for entry in self.manifest.shards]
        firsts = [s.keys[:, 0] for s in self._shards]
        self._index_keys = np.concatenate(firsts) if firsts else np.zeros(0, dtype="<u8")
        self._index_shard = np.concatenate([np.full(len(k), i, dtype=np.int32) for i, k in enumerate(firsts)]
                                           ) if firsts else np.zeros(0, dtype=np.int32)
        self._index_row = np.concatenate([np.arange(len(k), dtype=np.int32) for k in firsts]
                                         ) if firsts else np.zeros(0, dtype=np.int32)
        order = np.argsort(self._index_keys, kind="stable")
        self._index_keys, self._index_shard, self._index_row = (
            self._index_keys[order], self._index_shard[order], self._index_row[order])
        log.info("teacher store %s: %d sentences, %s, teacher %s", self.folder, len(order), self.signal.describe(),
                 self.identity.teacher_id)

    def __len__(self) -> int:
        return len(self._index_keys)

    def describe(self) -> str:
        return (f"teacher store {self.folder} ({self.identity.teacher_id}, {self.signal.describe()}, "
                f"{len(self)} sentences)")

    def refuse_unless(self, *, vocab_fingerprint: str | None = None, teacher_id: str | None = None,
                      signal: Signal | None = None) -> None:
        """Refuse (VocabularyMismatchError, StoreMismatchError) a store that is not of this vocabulary, teacher
        or signal, saying what it holds and how to get the right one."""
        ident = self.identity
        if vocab_fingerprint is not None and vocab_fingerprint != ident.vocab_fingerprint:
            raise VocabularyMismatchError(
                f"{self.describe()} was made with vocabulary {ident.vocab_fingerprint[:16]}..., the student's is "
                f"{vocab_fingerprint[:16]}...; precompute a store with this vocabulary's teacher")
        if teacher_id is not None and teacher_id and teacher_id != ident.teacher_id:
            raise StoreMismatchError(
                f"{self.describe()} holds the answers of teacher {ident.teacher_id}, but the live teacher is "
                f"{teacher_id}: its answers for the sentences the store lacks would come from another model. "
                "Use that teacher's store, or precompute one with `kd teacher precompute`")
        if signal is not None and (signal.kind, signal.size, signal.seed) != (
                self.signal.kind, self.signal.size, self.signal.seed):
            raise StoreMismatchError(
                f"{self.describe()} cannot answer {signal.describe()}; precompute a store with "
                f"{_precompute_flags(signal)}, or set the objective to what the store holds")

    def get(self, src: Sequence[int] | np.ndarray, tgt: Sequence[int] | np.ndarray) -> Result | None:
        """The stored answer for one sentence pair, or None when the store lacks it."""
        key = sentence_key(src, tgt)
        first = int(np.frombuffer(key[:8], dtype="<u8")[0])
        second = int(np.frombuffer(key[8:], dtype="<u8")[0])
        lo = int(np.searchsorted(self._index_keys, first, side="left"))
        hi = int(np.searchsorted(self._index_keys, first, side="right"))
        for i in range(lo, hi):
            shard = self._shards[int(self._index_shard[i])]
            row = int(self._index_row[i])
            if int(shard.keys[row, 1]) == second:
                return self._checked(shard, row, len(tgt))
        return None

    def get_many(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> list[Result | None]:
        return [self.get(s, t) for s, t in zip(src, tgt, strict=True)]

    def _checked(self, shard: ShardView, row: int, length: int) -> Result:
        """A row's answer, refused (naming the shard) unless it is a sound answer for a target of `length`."""
        try:
            result = shard.result(row)
        except ValueError as exc:
            raise StoreCorruptError(f"store {self.folder}: shard {shard.entry.file} row {row} is malformed "
                                    f"({exc})") from exc
        vocab = self.identity.vocab_size
        if isinstance(result, TopKResult):
            problem = topk_problem(result, length, self.signal.size, vocab)
        else:
            assert isinstance(result, SampledResult)
            problem = sampled_problem(result, length, self.signal.size, vocab)
        if problem:
            raise StoreCorruptError(f"store {self.folder}: shard {shard.entry.file} row {row} holds an answer no "
                                    f"teacher gives for this {length}-token target ({problem}); precompute the "
                                    "store again")
        return result


def _precompute_flags(signal: Signal) -> str:
    return f"--k {signal.size}" if signal.kind == "topk" else f"--sample {signal.size} --seed {signal.seed}"
