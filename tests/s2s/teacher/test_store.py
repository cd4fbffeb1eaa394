"""The teacher-output store on its own: shards round-trip exactly, a folder holds one identity, damage is named,
and a re-run redoes exactly the missing and damaged shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from s2s.errors import VocabularyMismatchError
from s2s.teacher.contract import SampledResult, TeacherError, TopKResult
from s2s.teacher.sampling import counted
from s2s.teacher.store.manifest import (
    Identity,
    ShardEntry,
    Signal,
    StoreCorruptError,
    StoreError,
    StoreMismatchError,
)
from s2s.teacher.store.reader import TeacherStore, sentence_key
from s2s.teacher.store.shards import file_sha256, write_shard
from s2s.teacher.store.writer import StoreWriter

VOCAB = 100
RNG = np.random.default_rng(0)
SENTENCES = [(RNG.integers(1, VOCAB, size=RNG.integers(2, 9)).tolist(), RNG.integers(1, VOCAB, size=RNG.integers(1, 9)
                                                                                   ).tolist()) for _ in range(30)]


def _identity(signal: Signal, teacher: str = "teacher-abc") -> Identity:
    return Identity(teacher, "teacher", "f" * 64, VOCAB, signal, {"data": "train.tsv", "max_len": 128})


def _topk(length: int, k: int = 4) -> TopKResult:
    ids = np.stack([RNG.choice(VOCAB, size=k, replace=False) for _ in range(length)])
    logq = np.sort(np.log(RNG.dirichlet(np.ones(k + 1), size=length)[:, :k]), axis=1)[:, ::-1]
    rest = np.log1p(-np.exp(logq).sum(1))
    # what the store keeps is float16, as on the wire
    return TopKResult(ids, logq.astype(np.float16).astype(np.float32), rest.astype(np.float16).astype(np.float32))


def _sampled(length: int, m: int = 12) -> SampledResult:
    return counted(RNG.integers(0, VOCAB, size=(length, m)), m)


def _write(folder: Path, signal: Signal, shards: int = 3, per_shard: int = 10) -> dict[int, object]:
    writer = StoreWriter(folder, _identity(signal))
    answers = {}
    for index in range(shards):
        rows = range(index * per_shard, (index + 1) * per_shard)
        results = [_topk(len(SENTENCES[i][1])) if signal.kind == "topk" else _sampled(len(SENTENCES[i][1]))
                   for i in rows]
        answers.update(dict(zip(rows, results, strict=True)))
        writer.add(index, [sentence_key(*SENTENCES[i]) for i in rows], results, [len(SENTENCES[i][1]) for i in rows])
    return answers


@pytest.mark.parametrize("signal", [Signal("topk", 4), Signal("sampled", 12, seed=3)])
def test_every_sentence_reads_back_exactly_as_written(tmp_path: Path, signal: Signal) -> None:
    answers = _write(tmp_path, signal)
    store = TeacherStore(tmp_path)
    assert len(store) == 30
    for i, (src, tgt) in enumerate(SENTENCES):
        got, want = store.get(src, tgt), answers[i]
        for name in ("ids", "logq", "rest_logmass", "counts"):
            if hasattr(want, name):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    assert store.get([1, 2, 3], [4, 5]) is None  # a sentence the store lacks
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["totals"]["sentences"] == 30
    assert manifest["totals"]["positions"] == sum(len(t) for _, t in SENTENCES)
    assert manifest["signal"] == {"kind": signal.kind, "size": signal.size, "seed": signal.seed}


def test_a_store_of_another_vocabulary_teacher_or_signal_is_refused_saying_what_it_holds(tmp_path: Path) -> None:
    _write(tmp_path, Signal("topk", 4), shards=1)
    store = TeacherStore(tmp_path)
    store.refuse_unless(vocab_fingerprint="f" * 64, teacher_id="teacher-abc", signal=Signal("topk", 4))
    with pytest.raises(VocabularyMismatchError, match="was made with vocabulary ffff"):
        store.refuse_unless(vocab_fingerprint="0" * 64)
    with pytest.raises(StoreMismatchError, match="holds the answers of teacher teacher-abc, but the live teacher "
                                                 "is teacher-xyz"):
        store.refuse_unless(teacher_id="teacher-xyz")
    with pytest.raises(StoreMismatchError, match="cannot answer top-8 .*--k 8"):
        store.refuse_unless(signal=Signal("topk", 8))
    with pytest.raises(StoreMismatchError, match="cannot answer sampled, m = 12 .*--sample 12 --seed 0"):
        store.refuse_unless(signal=Signal("sampled", 12))


def test_a_folder_holds_one_identity(tmp_path: Path) -> None:
    _write(tmp_path, Signal("topk", 4), shards=1)
    with pytest.raises(StoreMismatchError, match=r"signal.size: 4 != 8"):
        StoreWriter(tmp_path, _identity(Signal("topk", 8)))
    with pytest.raises(StoreMismatchError, match="teacher_id: 'teacher-abc' != 'other'"):
        StoreWriter(tmp_path, _identity(Signal("topk", 4), teacher="other"))


def test_a_damaged_shard_is_named_and_the_store_refused(tmp_path: Path) -> None:
    _write(tmp_path, Signal("topk", 4))
    shard = tmp_path / "shard-000001.arrow"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match="shard shard-000001.arrow is damaged"):
        TeacherStore(tmp_path)
    shard.unlink()
    with pytest.raises(StoreCorruptError, match="shard shard-000001.arrow is missing"):
        TeacherStore(tmp_path)


def test_a_re_run_keeps_sound_shards_and_forgets_damaged_ones(tmp_path: Path) -> None:
    _write(tmp_path, Signal("sampled", 12, seed=3))
    (tmp_path / "shard-000002.arrow").write_bytes(b"not arrow")
    writer = StoreWriter(tmp_path, _identity(Signal("sampled", 12, seed=3)))
    assert writer.done() == {0, 1}


def test_sound_checksum_but_values_no_teacher_gives_are_refused_by_row(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path, _identity(Signal("sampled", 12)))
    src, tgt = SENTENCES[0]
    bad = SampledResult(np.array([5]), np.array([12 * len(tgt) - 1]), 12)  # counts that do not sum to T·m
    with pytest.raises(TeacherError, match="shard 0, sentence 0: the teacher answered counts sum to"):
        writer.add(0, [sentence_key(src, tgt)], [bad], [len(tgt)])
    write_shard(tmp_path, 0, [sentence_key(src, tgt)], [bad], writer.identity.signal, VOCAB, len(tgt))
    entry = ShardEntry(0, "shard-000000.arrow", 1, len(tgt), (tmp_path / "shard-000000.arrow").stat().st_size,
                       file_sha256(tmp_path / "shard-000000.arrow"))
    writer.manifest.shards = [entry]
    writer.manifest.write(tmp_path)  # a shard whose checksum is sound but whose values are not
    with pytest.raises(StoreCorruptError, match="shard-000000.arrow row 0 holds an answer no teacher gives"):
        TeacherStore(tmp_path).get(src, tgt)


def test_a_folder_without_a_store_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is not a teacher-output store .*kd teacher precompute"):
        TeacherStore(tmp_path)
