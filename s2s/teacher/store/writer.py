"""The write side of a teacher-output store: claim a folder for one identity, then add finished shards.

A store is made shard by shard; each shard is written atomically and then recorded in the manifest (itself
replaced atomically), so a killed run leaves only complete shards behind, and a re-run with the same identity
does only the shards the manifest lacks, redoing any whose file is missing or no longer matches its checksum.
A folder holding another identity's store is refused with the differences named.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s2s.teacher.answers import sampled_problem, topk_problem
from s2s.teacher.contract import SampledResult, TeacherError, TopKResult
from s2s.teacher.store.manifest import MANIFEST, Identity, ShardEntry, StoreManifest, StoreMismatchError, read_manifest
from s2s.teacher.store.shards import Result, file_sha256, write_shard

log = logging.getLogger(__name__)


class StoreWriter:
    """Adds shards to the store in `folder` (one writer at a time)."""

    def __init__(self, folder: str | Path, identity: Identity, teacher: dict[str, Any] | None = None) -> None:
        """`teacher`: the teacher's Info, kept in the manifest (what a store alone reports as its teacher)."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".shard-*.tmp"):  # a killed writer's unfinished shard
            stale.unlink(missing_ok=True)
        if (self.folder / MANIFEST).is_file():
            self.manifest = read_manifest(self.folder)
            diff = self.manifest.identity.differences(identity)
            if diff:
                raise StoreMismatchError(f"{self.folder} holds a store of other settings ({'; '.join(diff)}); "
                                         "use another --out folder, or delete this one to start over")
            self._drop_damaged()
        else:
            self.manifest = StoreManifest(identity, teacher=dict(teacher or {}))
            self.manifest.write(self.folder)
        self.identity = identity

    def done(self) -> set[int]:
        """Indices of the shards already finished."""
        return {s.index for s in self.manifest.shards}

    def add(self, index: int, keys: Sequence[bytes], results: Sequence[Result], lengths: Sequence[int]) -> ShardEntry:
        """Check every answer against its target's length, write shard `index` and record it (replacing an
        older record of the same index). An unsound answer (a teacher bug) is a `TeacherError`, never stored."""
        signal, vocab = self.identity.signal, self.identity.vocab_size
        for i, (result, length) in enumerate(zip(results, lengths, strict=True)):
            if isinstance(result, TopKResult) and signal.kind == "topk":
                problem = topk_problem(result, length, signal.size, vocab)
            elif isinstance(result, SampledResult) and signal.kind == "sampled":
                problem = sampled_problem(result, length, signal.size, vocab)
            else:
                problem = f"a {type(result).__name__} in a {signal.kind} store"
            if problem:
                raise TeacherError(f"shard {index}, sentence {i}: the teacher answered {problem}; not stored")
        entry = write_shard(self.folder, index, keys, results, signal, vocab, sum(lengths))
        self.manifest.shards = [s for s in self.manifest.shards if s.index != index] + [entry]
        self.manifest.shards.sort(key=lambda s: s.index)
        self.manifest.write(self.folder)
        return entry

    def _drop_damaged(self) -> None:
        """Forget finished shards whose file is gone or changed, so that they are made again."""
        kept = []
        for entry in self.manifest.shards:
            path = self.folder / entry.file
            if path.is_file() and path.stat().st_size == entry.bytes and file_sha256(path) == entry.sha256:
                kept.append(entry)
            else:
                log.warning("store %s: shard %s is missing or damaged; it is made again", self.folder, entry.file)
        if len(kept) != len(self.manifest.shards):
            self.manifest.shards = kept
            self.manifest.write(self.folder)
