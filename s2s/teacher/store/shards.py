"""One shard of a teacher-output store: an Arrow IPC file, written atomically and read zero-copy.

Why Arrow IPC: it is columnar with variable-length lists (a sentence's positions) and fixed-width keys, pyarrow
(already a dependency) memory-maps it and hands out numpy views without copying or decoding, and any Arrow
reader (pyarrow, polars, DuckDB, arrow-rs) opens it without a server. Parquet would compress slightly better
but must be decoded to read (no memory mapping of values); safetensors holds dense tensors only, so ragged
sentences would need an index of our own beside it.

Columns, one row per sentence (no nulls, no compression):
- `key`: fixed_size_binary(16), the first 16 bytes of `s2s.teacher.identity.sentence_hash(src, tgt)`;
- top-k: `ids` list<uint16> (T·k, best first per position), `logq` list<float16> (T·k), `rest` list<float16> (T);
- sampled: `ids` list<uint16> (N distinct drawn ids, ascending per position), `counts` list<uint8> (N).
Ids are uint32 when the vocabulary has more than 65,536 entries.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from s2s.teacher.contract import SampledResult, TopKResult
from s2s.teacher.store.manifest import ShardEntry, Signal, StoreCorruptError

KEY_BYTES = 16
REDO = ("run the same `kd teacher precompute` again (same --out): it checks every shard and redoes the missing "
        "and damaged ones")
Result = TopKResult | SampledResult


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.arrow"


def id_type(vocab_size: int) -> pa.DataType:
    return pa.uint16() if vocab_size <= 65536 else pa.uint32()


def _lists(arrays: Sequence[np.ndarray], value_type: pa.DataType) -> pa.ListArray:
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat.astype(value_type.to_pandas_dtype())))


def to_table(keys: Sequence[bytes], results: Sequence[Result], signal: Signal, vocab_size: int) -> pa.Table:
    """The Arrow table of one shard's sentences."""
    ids = id_type(vocab_size)
    columns: dict[str, pa.Array] = {"key": pa.array(keys, pa.binary(KEY_BYTES))}
    if signal.kind == "topk":
        tops = [r for r in results if isinstance(r, TopKResult)]
        columns["ids"] = _lists([r.ids for r in tops], ids)
        columns["logq"] = _lists([r.logq for r in tops], pa.float16())
        columns["rest"] = _lists([r.rest_logmass for r in tops], pa.float16())
    else:
        drawn = [r for r in results if isinstance(r, SampledResult)]
        columns["ids"] = _lists([r.ids for r in drawn], ids)
        columns["counts"] = _lists([r.counts for r in drawn], pa.uint8())
    if any(len(col) != len(keys) for col in columns.values()):
        raise ValueError(f"every result of a {signal.kind} store must be a {signal.kind} answer")
    return pa.table(columns)


def write_shard(folder: Path, index: int, keys: Sequence[bytes], results: Sequence[Result], signal: Signal,
                vocab_size: int, positions: int) -> ShardEntry:
    """Write shard `index` through a temporary file renamed into place (a killed writer leaves no half shard),
    flushed to disk first; returns its manifest entry with the sha256 of its bytes."""
    table = to_table(keys, results, signal, vocab_size)
    path = Path(folder) / shard_name(index)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ShardEntry(index, path.name, len(keys), positions, path.stat().st_size, file_sha256(path))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values) of a list column, as numpy views of the mapped file."""
    array = table.column(name).combine_chunks()
    return array.offsets.to_numpy(), array.values.to_numpy(zero_copy_only=True)


@dataclass
class ShardView:
    """A verified, memory-mapped shard: its keys and each sentence's answer by row."""

    entry: ShardEntry
    signal: Signal
    keys: np.ndarray  # [n, 2] uint64: the 16-byte keys
    _columns: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def open(cls, folder: Path, entry: ShardEntry, signal: Signal, verify: bool = True) -> ShardView:
        """Map a shard after checking its size and sha256 against the manifest (`StoreCorruptError` names it)."""
        path = Path(folder) / entry.file
        where = f"store {folder}: shard {entry.file}"
        if not path.is_file():
            raise StoreCorruptError(f"{where} is missing; {REDO}")
        if path.stat().st_size != entry.bytes or (verify and file_sha256(path) != entry.sha256):
            raise StoreCorruptError(f"{where} is damaged: its size or sha256 differs from the manifest's; {REDO}")
        try:
            table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
            names = ("ids", "logq", "rest") if signal.kind == "topk" else ("ids", "counts")
            columns = {name: _column(table, name) for name in names}
            key_buffer = table.column("key").combine_chunks().buffers()[1]
            keys = np.frombuffer(key_buffer, dtype="<u8", count=2 * table.num_rows).reshape(-1, 2)
        except (pa.ArrowException, KeyError, ValueError) as exc:
            raise StoreCorruptError(f"{where} is not a readable Arrow file of this signal ({exc})") from exc
        if table.num_rows != entry.sentences:
            raise StoreCorruptError(f"{where} holds {table.num_rows} sentences, the manifest says {entry.sentences}")
        return cls(entry, signal, keys, columns)

    def _values(self, name: str, row: int) -> np.ndarray:
        offsets, values = self._columns[name]
        return values[offsets[row]: offsets[row + 1]]

    def result(self, row: int) -> Result:
        """The answer stored in `row` (log-probabilities at float16 precision, as on the wire)."""
        ids = self._values("ids", row).astype(np.int64)
        if self.signal.kind == "sampled":
            return SampledResult(ids, self._values("counts", row).astype(np.int64), self.signal.size)
        k = self.signal.size
        logq = self._values("logq", row).astype(np.float32)
        return TopKResult(ids.reshape(-1, k), logq.reshape(-1, k), self._values("rest", row).astype(np.float32))
