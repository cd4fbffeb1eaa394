"""Streaming a worker's shard of a TSV corpus as token-budget batches, without loading the corpus.

The file is cut into byte blocks (a line belongs to the block it starts in). Each epoch the block order
is shuffled with a seed shared by all workers; worker r takes blocks r, r+W, r+2W, ... Groups of
`pool_blocks` blocks are read, tokenised, sorted by length and cut into batches of at most `max_tokens`
padded tokens, whose order is shuffled again. Only one pool is in memory at a time, and the batch
sequence of an epoch is a pure function of (seed, epoch, rank, world size), so a restarted worker can
skip exactly the batches it had already trained on.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from s2s.batching import length_sorted_batches
from s2s.errors import DataError
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch
from student_trainer.recipe import DataSpec

log = logging.getLogger(__name__)
MIN_BLOCK_BYTES = 4096


@dataclass(frozen=True)
class TsvLayout:
    """Where the data rows of a TSV start and which columns hold source and target."""

    path: Path
    columns: list[str]
    src_index: int
    tgt_index: int
    data_start: int
    size: int


def read_layout(path: Path, src_col: str, tgt_col: str) -> TsvLayout:
    """Read only the header row of a TSV and locate the source and target columns."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    with path.open("rb") as f:
        header = f.readline()
        data_start = f.tell()
    columns = header.decode("utf-8-sig").rstrip("\r\n").split("\t")
    for col in (src_col, tgt_col):
        if col not in columns:
            raise DataError(f"{path}: header {columns} has no column {col!r}; set data.src_col / data.tgt_col")
    return TsvLayout(path, columns, columns.index(src_col), columns.index(tgt_col), data_start,
                     path.stat().st_size)


def block_ranges(layout: TsvLayout, block_bytes: int, world_size: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) covering the data rows; blocks shrink so that every worker gets several."""
    data_bytes = max(layout.size - layout.data_start, 1)
    size = max(MIN_BLOCK_BYTES, min(block_bytes, data_bytes // (4 * world_size) or 1))
    starts = range(layout.data_start, layout.size, size)
    return [(s, min(s + size, layout.size)) for s in starts]


def read_block_rows(layout: TsvLayout, start: int, end: int) -> Iterator[tuple[str, str] | None]:
    """(source, target) of every row starting in [start, end); None for a malformed or empty row."""
    with layout.path.open("rb") as f:
        if start > layout.data_start:
            f.seek(start - 1)
            f.readline()  # finish the line that started in the previous block
        else:
            f.seek(start)
        while f.tell() < end:
            raw = f.readline()
            if not raw:
                break
            yield _parse_row(raw, layout)


def _parse_row(raw: bytes, layout: TsvLayout) -> tuple[str, str] | None:
    try:
        cells = raw.decode("utf-8").rstrip("\r\n").split("\t")
    except UnicodeDecodeError:
        return None
    if len(cells) != len(layout.columns):
        return None
    src, tgt = " ".join(cells[layout.src_index].split()), " ".join(cells[layout.tgt_index].split())
    return (src, tgt) if src and tgt else None


class ShardStream:
    """The batches of one worker's shard of a training TSV, epoch by epoch."""

    def __init__(self, spec: DataSpec, tokenizer: Tokenizer, rank: int, world_size: int, seed: int) -> None:
        self.spec, self.tokenizer, self.rank, self.world, self.seed = spec, tokenizer, rank, world_size, seed
        self.layout = read_layout(Path(spec.train), spec.src_col, spec.tgt_col)
        self.blocks = block_ranges(self.layout, spec.block_bytes, world_size)
        self.skipped_rows = 0

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[Batch]:
        """The batches of `epoch` for this worker, leaving out the first `skip` (already trained on)."""
        blocks = list(self.blocks)
        if self.spec.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(blocks)
        mine = blocks[self.rank :: self.world]
        rng = random.Random((self.seed * 1_000_003 + epoch) * 131 + self.rank)
        index = 0
        for p in range(0, len(mine), self.spec.pool_blocks):
            for batch in self._pool(mine[p : p + self.spec.pool_blocks], rng):
                if index >= skip:
                    yield batch
                index += 1

    def _pool(self, blocks: list[tuple[int, int]], rng: random.Random) -> list[Batch]:
        src: list[list[int]] = []
        tgt: list[list[int]] = []
        for start, end in blocks:
            for row in read_block_rows(self.layout, start, end):
                if row is None:
                    self.skipped_rows += 1
                    continue
                src.append(self.tokenizer.encode_source(row[0], self.spec.max_len))
                tgt.append(self.tokenizer.encode_target(row[1], self.spec.max_len))
        lengths = [max(len(s), len(t)) for s, t in zip(src, tgt, strict=True)]
        groups = list(length_sorted_batches(lengths, self.spec.max_tokens, self.spec.max_sentences))
        if self.spec.shuffle:
            rng.shuffle(groups)
        return [Batch([src[i] for i in g], [tgt[i] for i in g]) for g in groups]
