"""What a teacher-output store holds: its identity (teacher, vocabulary, signal, corpus) and its shards.

`manifest.json` is rewritten atomically after every finished shard, so it always lists exactly the shards
that are complete, with their checksums; a shard file it does not list is unfinished work. The identity is
what must match for a store to be reused: a re-run of `kd teacher precompute` on another teacher, signal or
corpus is refused, and so is a training run whose teacher, vocabulary or objective differs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s2s.atomic import write_text_atomic
from s2s.errors import KDError
from s2s.teacher.contract import Signal

__all__ = ["FORMAT", "MANIFEST", "Identity", "ShardEntry", "Signal", "StoreCorruptError", "StoreError",
           "StoreManifest", "StoreMismatchError", "read_manifest"]

FORMAT = "kd-teacher-store/1"
MANIFEST = "manifest.json"


class StoreError(KDError):
    """A teacher-output store is missing, unreadable or cannot serve this use."""


class StoreMismatchError(StoreError):
    """The store holds answers of another teacher, vocabulary, signal or corpus than asked for."""


class StoreCorruptError(StoreError):
    """A shard does not match its checksum or holds values no teacher answers (named in the message)."""


@dataclass(frozen=True)
class Identity:
    """Whose answers, to which sentences: everything that must match for a store to be reused."""

    teacher_id: str
    model_id: str
    vocab_fingerprint: str
    vocab_size: int
    signal: Signal
    corpus: dict[str, Any] = field(default_factory=dict)  # data file, columns, max_len, rows, shard size

    def differences(self, other: Identity) -> list[str]:
        """The fields in which two identities differ, as `name: mine != theirs`."""
        mine, theirs = _flat(asdict(self)), _flat(asdict(other))
        return [f"{key}: {mine.get(key)!r} != {theirs.get(key)!r}" for key in sorted(set(mine) | set(theirs))
                if mine.get(key) != theirs.get(key)]


@dataclass(frozen=True)
class ShardEntry:
    """One finished shard: its file, what it covers, and the sha256 of its bytes."""

    index: int
    file: str
    sentences: int
    positions: int
    bytes: int
    sha256: str


@dataclass
class StoreManifest:
    """`manifest.json`: the format, the identity and the finished shards."""

    identity: Identity
    shards: list[ShardEntry] = field(default_factory=list)
    format: str = FORMAT
    teacher: dict[str, Any] = field(default_factory=dict)  # the teacher's Info when the store was begun

    @property
    def sentences(self) -> int:
        return sum(s.sentences for s in self.shards)

    @property
    def positions(self) -> int:
        return sum(s.positions for s in self.shards)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def to_json(self) -> str:
        data = {"format": self.format, **asdict(self.identity), "teacher": self.teacher,
                "totals": {"shards": len(self.shards), "sentences": self.sentences, "positions": self.positions,
                           "bytes": self.bytes,
                           "bytes_per_position": round(self.bytes / self.positions, 3) if self.positions else None},
                "shards": [asdict(s) for s in sorted(self.shards, key=lambda s: s.index)]}
        return json.dumps(data, indent=2) + "\n"

    def write(self, folder: Path) -> None:
        write_text_atomic(Path(folder) / MANIFEST, self.to_json())


def read_manifest(folder: Path) -> StoreManifest:
    """The manifest of the store in `folder`, or a `StoreError` saying what is wrong with it."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise StoreError(f"{folder} is not a teacher-output store (no {MANIFEST}); make one with "
                         "`kd teacher precompute --data TRAIN.tsv --out DIR ...`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise StoreError(f"{path}: format {data.get('format')!r} is not {FORMAT!r}; precompute the store again "
                             "with this version")
        signal = Signal(**data["signal"])
        identity = Identity(data["teacher_id"], data["model_id"], data["vocab_fingerprint"], int(data["vocab_size"]),
                            signal, dict(data.get("corpus", {})))
        shards = [ShardEntry(**s) for s in data["shards"]]
        teacher = dict(data.get("teacher") or {})
    except StoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path} is unreadable or incomplete ({type(exc).__name__}: {exc}); "
                         "precompute the store again") from exc
    return StoreManifest(identity, shards, data["format"], teacher)


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
