"""SentencePiece tokenizer in the Marian folder layout (`source.spm`, `target.spm`, `vocab.json`).

The project's own models use one joint vocabulary for source and target; `<pad>` is the last id because
CTranslate2's Marian converter requires it. Marian models as published (opus-mt) may instead have separate
source and target vocabularies (`vocab.json` and `target_vocab.json`, `"separate_vocabs": true` in
`tokenizer_config.json`); then source ids index the first and target ids (labels, outputs) the second.
Multilingual opus-mt models choose the target language with a `>>xx<<` token before the source: it is
added when the target language is given and the vocabulary has such a token. The vocabulary fingerprint
identifies the vocabulary in manifests, cache keys and the teacher's `Info`, so that mismatched artefacts
are refused instead of trained through.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from s2s.errors import TokenizerError
from s2s.languages import Languages

EOS, UNK, PAD = "</s>", "<unk>", "<pad>"
TOKENIZER_FILES = ("source.spm", "target.spm", "vocab.json")
OPTIONAL_FILES = ("target_vocab.json", "tokenizer_config.json")


def vocab_fingerprint(vocab: dict[str, int]) -> str:
    """sha256 over the sorted (piece, id) items of a vocabulary: equal iff the vocabularies are equal."""
    blob = json.dumps(sorted(vocab.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Tokenizer:
    """Encodes text to ids and back with a SentencePiece model and a Marian `vocab.json`."""

    def __init__(self, folder: Path, languages: Languages | None = None) -> None:
        self.folder = Path(folder)
        missing = [name for name in TOKENIZER_FILES if not (self.folder / name).is_file()]
        if missing:
            raise TokenizerError(
                f"tokenizer folder {self.folder} lacks {', '.join(missing)}; "
                "point at a Marian model folder or run `kd tokenizer train`"
            )
        self.languages = languages or Languages()
        self.source_vocab: dict[str, int] = self._read_vocab("vocab.json")
        self.separate = self._separate_vocabs()
        self.vocab: dict[str, int] = self._read_vocab("target_vocab.json") if self.separate else self.source_vocab
        """The target vocabulary (labels, outputs); `source_vocab` is the encoder's (the same object when joint)."""
        self.id_to_piece = {i: p for p, i in self.vocab.items()}
        self._source_piece = {i: p for p, i in self.source_vocab.items()}
        for name, vocab in (("vocab.json", self.source_vocab), ("target_vocab.json", self.vocab)):
            self._check_layout(name, vocab)
        self._src = spm.SentencePieceProcessor(model_file=str(self.folder / "source.spm"))
        self._tgt = spm.SentencePieceProcessor(model_file=str(self.folder / "target.spm"))
        self.eos_id, self.unk_id, self.pad_id = self.vocab[EOS], self.vocab[UNK], self.vocab[PAD]
        if self.separate and (self.source_vocab[EOS], self.source_vocab[PAD]) != (self.eos_id, self.pad_id):
            raise TokenizerError(f"{self.folder}: {EOS!r} and {PAD!r} must have the same ids in vocab.json and "
                                 "target_vocab.json (the model has one pad and one end-of-sentence id)")
        self.vocab_size = len(self.vocab)
        self.source_vocab_size = len(self.source_vocab)
        self.forced_bos_id: int | None = None
        self._target_token = self._language_token()
        self.fingerprint = vocab_fingerprint(self.vocab) if not self.separate else vocab_fingerprint(
            {**{f"source:{p}": i for p, i in self.source_vocab.items()}, **self.vocab})

    def _read_vocab(self, name: str) -> dict[str, int]:
        try:
            vocab = json.loads((self.folder / name).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TokenizerError(f"{self.folder}/{name} is not a readable JSON vocabulary ({exc})") from exc
        if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
            raise TokenizerError(f"{self.folder}/{name} must map pieces to integer ids")
        return vocab

    def _separate_vocabs(self) -> bool:
        config = self.folder / "tokenizer_config.json"
        try:
            separate = bool(json.loads(config.read_text(encoding="utf-8")).get("separate_vocabs", False))
        except (OSError, json.JSONDecodeError, AttributeError):
            separate = False
        if separate and not (self.folder / "target_vocab.json").is_file():
            raise TokenizerError(f"{config} says separate_vocabs, but {self.folder} has no target_vocab.json")
        return separate

    def _language_token(self) -> str | None:
        """`>>xx<<`, the target-language token of multilingual opus-mt models, when it applies."""
        tgt = self.languages.tgt
        token = f">>{tgt}<<" if tgt else None
        return token if token is not None and token in self.source_vocab else None

    def _check_layout(self, name: str, vocab: dict[str, int]) -> None:
        for piece in (EOS, UNK, PAD):
            if piece not in vocab:
                raise TokenizerError(f"{self.folder}/{name} has no {piece!r} entry")
        ids = sorted(vocab.values())
        if ids != list(range(len(ids))):
            raise TokenizerError(f"{self.folder}/{name} ids are not 0..{len(ids) - 1} without gaps")
        if vocab[PAD] != len(ids) - 1:
            raise TokenizerError(
                f"{self.folder}/{name}: {PAD!r} has id {vocab[PAD]}, but must be the last id "
                f"({len(ids) - 1}) for CTranslate2's Marian converter"
            )

    def encode_source(self, text: str, max_len: int | None = None) -> list[int]:
        """Source ids ending in `</s>`; truncated to `max_len` tokens (keeping the final `</s>`)."""
        pieces = self._src.encode(text, out_type=str)
        if self._target_token is not None:
            pieces = [self._target_token, *pieces]
        return self._finish([self.source_vocab.get(p, self.unk_id) for p in pieces], max_len)

    def encode_target(self, text: str, max_len: int | None = None) -> list[int]:
        """Target ids ending in `</s>` (the decoder's labels); truncated like `encode_source`."""
        return self._finish(self.target_ids(self._tgt.encode(text, out_type=str)), max_len)

    def _finish(self, ids: list[int], max_len: int | None) -> list[int]:
        if max_len is not None and len(ids) >= max_len:
            ids = ids[: max_len - 1]
        return [*ids, self.eos_id]

    def source_pieces(self, ids: Sequence[int]) -> list[str]:
        """The pieces of encoder ids (what CTranslate2 takes as input)."""
        return [self._source_piece[int(i)] for i in ids]

    def target_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.id_to_piece[int(i)] for i in ids]

    def target_ids(self, pieces: Sequence[str]) -> list[int]:
        """Decoder ids of pieces (CTranslate2's output); unknown pieces become `<unk>`."""
        return [self.vocab.get(p, self.unk_id) for p in pieces]

    def encode_batch(self, texts: Iterable[str], side: str = "source", max_len: int | None = None) -> list[list[int]]:
        """Encode many texts on one side ("source" or "target")."""
        encode = self.encode_source if side == "source" else self.encode_target
        return [encode(t, max_len) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of target ids; special tokens and anything after the first `</s>` are dropped."""
        pieces: list[str] = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.unk_id) or i not in self.id_to_piece:
                continue
            pieces.append(self.id_to_piece[i])
        return str(self._tgt.decode_pieces(pieces))

    def save(self, folder: Path) -> None:
        """Copy the tokenizer files into `folder` (a checkpoint or export folder)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        extra = [n for n in OPTIONAL_FILES if (self.folder / n).is_file()] if self.separate else []
        for name in (*TOKENIZER_FILES, *extra):
            if (self.folder / name).resolve() != (folder / name).resolve():
                shutil.copyfile(self.folder / name, folder / name)


def unknown_rate(tokenizer: Tokenizer, texts: Iterable[str], side: str = "source") -> float:
    """Share of `<unk>` among the tokens of `texts` (without `</s>`): how badly a tokenizer fits a corpus."""
    total = unknown = 0
    for ids in tokenizer.encode_batch(texts, side):
        body = ids[:-1]
        total += len(body)
        unknown += sum(1 for i in body if i == tokenizer.unk_id)
    return unknown / total if total else 0.0
