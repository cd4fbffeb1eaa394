"""Tokenizer layout, round trips, fingerprint stability, and agreement with transformers' MarianTokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import MarianTokenizer

from s2s.corpus import read_tsv
from s2s.errors import TokenizerError
from s2s.tokenizer import Tokenizer, vocab_fingerprint
from s2s.tokenizer_training import train_tokenizer


@pytest.fixture(scope="module")
def small_tokenizer(tmp_path_factory: pytest.TempPathFactory, bible_dir: Path) -> Tokenizer:
    corpus = read_tsv(bible_dir / "valid.tsv")
    return train_tokenizer([*corpus.sources(), *corpus.targets()], tmp_path_factory.mktemp("tok"), 500)


def test_trained_layout_has_pad_last_and_marian_files(small_tokenizer: Tokenizer) -> None:
    folder = small_tokenizer.folder
    assert {p.name for p in folder.iterdir()} >= {"source.spm", "target.spm", "vocab.json"}
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["</s>"] == 0 and vocab["<unk>"] == 1
    assert vocab["<pad>"] == len(vocab) - 1 == small_tokenizer.pad_id
    assert sorted(vocab.values()) == list(range(len(vocab)))


def test_fingerprint_is_stable_and_order_independent(small_tokenizer: Tokenizer, tmp_path: Path) -> None:
    vocab = small_tokenizer.vocab
    shuffled = dict(reversed(list(vocab.items())))
    assert vocab_fingerprint(shuffled) == vocab_fingerprint(vocab) == small_tokenizer.fingerprint
    assert Tokenizer(small_tokenizer.folder).fingerprint == small_tokenizer.fingerprint
    changed = dict(vocab)
    changed["▁extra"] = len(changed)
    assert vocab_fingerprint(changed) != small_tokenizer.fingerprint


def test_training_twice_gives_the_same_fingerprint(bible_dir: Path, tmp_path: Path,
                                                   small_tokenizer: Tokenizer) -> None:
    corpus = read_tsv(bible_dir / "valid.tsv")
    again = train_tokenizer([*corpus.sources(), *corpus.targets()], tmp_path / "again", 500)
    assert again.fingerprint == small_tokenizer.fingerprint


def test_round_trip_and_eos(small_tokenizer: Tokenizer) -> None:
    text = "Y dijo Dios: Sea la luz."
    ids = small_tokenizer.encode_source(text)
    assert ids[-1] == small_tokenizer.eos_id
    assert small_tokenizer.decode(ids) == text
    assert len(small_tokenizer.encode_source(text * 20, max_len=16)) == 16


def test_matches_marian_tokenizer_on_reference_teacher(reference_teacher_dir: Path, bible_dir: Path) -> None:
    ours = Tokenizer(reference_teacher_dir)
    theirs = MarianTokenizer.from_pretrained(str(reference_teacher_dir))
    for pair in read_tsv(bible_dir / "test.tsv").pairs[:50]:
        assert ours.encode_source(pair.src) == theirs(pair.src)["input_ids"]
        ids = ours.encode_target(pair.tgt)
        assert ours.decode(ids) == theirs.decode(ids, skip_special_tokens=True)


def test_missing_files_and_bad_layout_are_refused(tmp_path: Path, small_tokenizer: Tokenizer) -> None:
    with pytest.raises(TokenizerError, match="lacks source.spm"):
        Tokenizer(tmp_path)
    small_tokenizer.save(tmp_path)
    vocab = dict(small_tokenizer.vocab)
    vocab["<pad>"], vocab["</s>"] = 0, vocab["<pad>"]
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(TokenizerError, match="must be the last id"):
        Tokenizer(tmp_path)


def test_empty_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="empty"):
        train_tokenizer(["", "  "], tmp_path, 100)
