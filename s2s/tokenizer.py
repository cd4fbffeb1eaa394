"""SentencePiece tokenizer in the Marian folder layout (`source.spm`, `target.spm`, `vocab.json`).

One joint vocabulary serves source and target; `<pad>` is the last id because CTranslate2's Marian
converter requires it. The vocabulary fingerprint identifies the vocabulary in manifests, cache keys and
the teacher's `Info`, so that mismatched artefacts are refused instead of trained through.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from s2s.errors import TokenizerError

EOS, UNK, PAD = "</s>", "<unk>", "<pad>"
TOKENIZER_FILES = ("source.spm", "target.spm", "vocab.json")


def vocab_fingerprint(vocab: dict[str, int]) -> str:
    """sha256 over the sorted (piece, id) items of a vocabulary: equal iff the vocabularies are equal."""
    blob = json.dumps(sorted(vocab.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Tokenizer:
    """Encodes text to ids and back with a SentencePiece model and a Marian `vocab.json`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        missing = [name for name in TOKENIZER_FILES if not (self.folder / name).is_file()]
        if missing:
            raise TokenizerError(
                f"tokenizer folder {self.folder} lacks {', '.join(missing)}; "
                "point at a Marian model folder or run `kd tokenizer train`"
            )
        self.vocab: dict[str, int] = json.loads((self.folder / "vocab.json").read_text(encoding="utf-8"))
        self.id_to_piece = {i: p for p, i in self.vocab.items()}
        self._check_layout()
        self._src = spm.SentencePieceProcessor(model_file=str(self.folder / "source.spm"))
        self._tgt = spm.SentencePieceProcessor(model_file=str(self.folder / "target.spm"))
        self.eos_id, self.unk_id, self.pad_id = self.vocab[EOS], self.vocab[UNK], self.vocab[PAD]
        self.vocab_size = len(self.vocab)
        self.fingerprint = vocab_fingerprint(self.vocab)

    def _check_layout(self) -> None:
        for piece in (EOS, UNK, PAD):
            if piece not in self.vocab:
                raise TokenizerError(f"{self.folder}/vocab.json has no {piece!r} entry")
        ids = sorted(self.vocab.values())
        if ids != list(range(len(ids))):
            raise TokenizerError(f"{self.folder}/vocab.json ids are not 0..{len(ids) - 1} without gaps")
        if self.vocab[PAD] != len(ids) - 1:
            raise TokenizerError(
                f"{self.folder}/vocab.json: {PAD!r} has id {self.vocab[PAD]}, but must be the last id "
                f"({len(ids) - 1}) for CTranslate2's Marian converter"
            )

    def _to_ids(self, pieces: Sequence[str]) -> list[int]:
        return [self.vocab.get(p, self.unk_id) for p in pieces]

    def encode_source(self, text: str, max_len: int | None = None) -> list[int]:
        """Source ids ending in `</s>`; truncated to `max_len` tokens (keeping the final `</s>`)."""
        return self._encode(self._src, text, max_len)

    def encode_target(self, text: str, max_len: int | None = None) -> list[int]:
        """Target ids ending in `</s>` (the decoder's labels); truncated like `encode_source`."""
        return self._encode(self._tgt, text, max_len)

    def _encode(self, proc: spm.SentencePieceProcessor, text: str, max_len: int | None) -> list[int]:
        ids = self._to_ids(proc.encode(text, out_type=str))
        if max_len is not None and len(ids) >= max_len:
            ids = ids[: max_len - 1]
        return [*ids, self.eos_id]

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
        for name in TOKENIZER_FILES:
            if (self.folder / name).resolve() != (folder / name).resolve():
                shutil.copyfile(self.folder / name, folder / name)
