"""Training a joint SentencePiece unigram model and writing it in the Marian tokenizer layout."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

from s2s.errors import TokenizerError
from s2s.tokenizer import EOS, PAD, UNK, Tokenizer

MAX_SENTENCES = 2_000_000
"""Sentences SentencePiece trains on at most (a uniform sample of a larger corpus)."""


def train_tokenizer(
    texts: Iterable[str], out_dir: Path, vocab_size: int = 8000, character_coverage: float = 1.0
) -> Tokenizer:
    """Train a unigram model on `texts` (source and target sentences together) into `out_dir`.

    Ids: `</s>` = 0, `<unk>` = 1, then the pieces, then `<pad>` as the last id, so the vocabulary holds
    `vocab_size + 1` entries. `source.spm` and `target.spm` are the same joint model.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        n = _write_lines(texts, corpus)
        if n == 0:
            raise TokenizerError("no text to train the tokenizer on: the corpus is empty")
        prefix = Path(tmp) / "spm"
        try:
            spm.SentencePieceTrainer.train(
                input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
                character_coverage=character_coverage, eos_id=0, unk_id=1, bos_id=-1, pad_id=-1,
                eos_piece=EOS, unk_piece=UNK, hard_vocab_limit=False, minloglevel=2,
                # A large corpus is sampled, not loaded whole: SentencePiece holds its input in memory.
                input_sentence_size=MAX_SENTENCES, shuffle_input_sentence=True,
            )
        except RuntimeError as exc:
            raise TokenizerError(f"SentencePiece training failed: {exc}; try a smaller --vocab-size") from exc
        model_bytes = (Path(tmp) / "spm.model").read_bytes()
    proc = spm.SentencePieceProcessor(model_proto=model_bytes)
    vocab = {proc.id_to_piece(i): i for i in range(proc.get_piece_size())}
    vocab[PAD] = len(vocab)
    for name in ("source.spm", "target.spm"):
        (out_dir / name).write_bytes(model_bytes)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0), encoding="utf-8")
    return Tokenizer(out_dir)


def _write_lines(texts: Iterable[str], path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for t in texts:
            t = t.strip()
            if t:
                f.write(t.replace("\n", " ") + "\n")
                n += 1
    return n
