"""Streaming shards: workers partition the rows, batches respect the token budget, skipping is exact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch, to_tensors
from student_trainer.recipe import DataSpec
from student_trainer.stream import ShardStream, block_ranges, read_layout


def _spec(train: Path, **changes: object) -> DataSpec:
    return dataclasses.replace(DataSpec(train=str(train), max_tokens=500, block_bytes=4096, pool_blocks=2,
                                        max_len=64), **changes)  # type: ignore[arg-type]


def _pairs(batches: list[Batch]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    return [(tuple(s), tuple(t)) for b in batches for s, t in zip(b.src, b.tgt, strict=True)]


def test_two_workers_partition_the_rows_exactly(tiny_data: dict[str, Path], tokenizer: Tokenizer) -> None:
    spec = _spec(tiny_data["train"])
    shards = [list(ShardStream(spec, tokenizer, rank, 2, seed=3).epoch(0)) for rank in (0, 1)]
    assert shards[0] and shards[1]
    seen = _pairs(shards[0]) + _pairs(shards[1])
    rows = (tiny_data["train"]).read_text(encoding="utf-8").splitlines()[1:]
    cells = [r.split("\t") for r in rows]
    expected = [(tuple(tokenizer.encode_source(c[1], 64)), tuple(tokenizer.encode_target(c[2], 64))) for c in cells]
    assert sorted(seen) == sorted(expected)


def test_batches_respect_the_token_budget(tiny_data: dict[str, Path], tokenizer: Tokenizer) -> None:
    spec = _spec(tiny_data["train"], max_tokens=300, max_sentences=16)
    for batch in ShardStream(spec, tokenizer, 0, 1, seed=1).epoch(0):
        longest = max(max(len(s), len(t)) for s, t in zip(batch.src, batch.tgt, strict=True))
        assert batch.size <= 16 and (batch.size == 1 or batch.size * longest <= 300)


def test_epochs_are_reproducible_shuffled_and_skippable(tiny_data: dict[str, Path], tokenizer: Tokenizer) -> None:
    stream = ShardStream(_spec(tiny_data["train"]), tokenizer, 0, 1, seed=5)
    first, again, second = list(stream.epoch(0)), list(stream.epoch(0)), list(stream.epoch(1))
    assert first == again
    assert first != second and sorted(_pairs(first)) == sorted(_pairs(second))
    assert list(stream.epoch(0, skip=3)) == first[3:]


def test_blocks_cover_the_file_and_rows_are_read_once(tiny_data: dict[str, Path]) -> None:
    layout = read_layout(tiny_data["train"], "es", "en")
    blocks = block_ranges(layout, 4096, 1)
    assert blocks[0][0] == layout.data_start and blocks[-1][1] == layout.size
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))


def test_bad_rows_are_skipped_and_counted(tmp_path: Path, tokenizer: Tokenizer) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("ref\tes\ten\na\tHola\tHello\nb\t\tEmpty\nc\tsolo dos\nd\tAdiós\tGoodbye\n", encoding="utf-8")
    stream = ShardStream(_spec(path), tokenizer, 0, 1, seed=0)
    batches = list(stream.epoch(0))
    assert sum(b.size for b in batches) == 2 and stream.skipped_rows == 2


def test_tensors_follow_the_teacher_forcing_convention(tokenizer: Tokenizer) -> None:
    batch = Batch([[5, 6, 0], [7, 0]], [[8, 9, 10, 0], [11, 0]])
    t = to_tensors(batch, tokenizer.pad_id)
    pad = tokenizer.pad_id
    assert t.decoder_input_ids.tolist() == [[pad, 8, 9, 10], [pad, 11, pad, pad]]
    assert t.labels.tolist() == [[8, 9, 10, 0], [11, 0, pad, pad]]
    assert t.target_mask.tolist() == [[True] * 4, [True, True, False, False]]
