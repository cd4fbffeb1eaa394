"""`HFTokenizer`: a Hugging Face tokenizer behind the project's tokenizer interface (`SeqTokenizer`).

Families that are not Marian (T5, mBART-50, M2M100 / NLLB) tokenise with their own Hugging Face
tokenizer. This adapter fixes the direction once (language codes set, task prefix chosen), so that callers
see exactly what they see with the Marian tokenizer: `encode_source` gives the encoder ids (prefix or
language code included, ending in `</s>`), `encode_target` the labels (the target language code first where
the family forces it), `decode` clean text without language codes or special tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from s2s.errors import TokenizerError
from s2s.languages import Languages


def _truncate(ids: list[int], max_len: int | None, eos_id: int) -> list[int]:
    """At most `max_len` ids, keeping the final `</s>` (as the Marian tokenizer truncates)."""
    if max_len is None or len(ids) <= max_len:
        return ids
    keep = ids[: max_len - 1]
    return [*keep, eos_id] if ids[-1] == eos_id else ids[:max_len]


class HFTokenizer:
    """One translation direction of a Hugging Face tokenizer; see the module docstring."""

    def __init__(self, folder: Path, hf: Any, languages: Languages, prefix: str = "",
                 forced_bos_id: int | None = None, drop_ids: Iterable[int] = (),
                 vocab_size: int | None = None) -> None:
        self.folder = Path(folder)
        self.hf = hf
        self.languages = languages
        self.prefix = prefix
        self.forced_bos_id = forced_bos_id
        for name in ("pad_token_id", "eos_token_id"):
            if getattr(hf, name, None) is None:
                raise TokenizerError(f"{self.folder}: the tokenizer defines no {name.removesuffix('_id')} token")
        self.pad_id, self.eos_id = int(hf.pad_token_id), int(hf.eos_token_id)
        self.unk_id = int(hf.unk_token_id) if hf.unk_token_id is not None else self.pad_id
        known = self._known_size()
        self.vocab_size = max(known, vocab_size or 0)
        self._drop = {*(int(i) for i in hf.all_special_ids), *(int(i) for i in drop_ids)}
        self.fingerprint = self._fingerprint(known)

    def _known_size(self) -> int:
        ids = [int(i) for i in self.hf.get_vocab().values()]
        extra = [self.forced_bos_id] if self.forced_bos_id is not None else []
        return max([*ids, *extra, len(self.hf) - 1]) + 1

    def _fingerprint(self, size: int) -> str:
        """sha256 over (token, id) for every id the tokenizer can produce."""
        tokens = self.hf.convert_ids_to_tokens(list(range(size)))
        blob = json.dumps([[t, i] for i, t in enumerate(tokens)], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def encode_source(self, text: str, max_len: int | None = None) -> list[int]:
        """Encoder ids of `text` (with the task prefix or source language code), ending in `</s>`."""
        return self.encode_batch([text], "source", max_len)[0]

    def encode_target(self, text: str, max_len: int | None = None) -> list[int]:
        """Labels of `text` (the forced target language code first, where the family has one)."""
        return self.encode_batch([text], "target", max_len)[0]

    def encode_batch(self, texts: Iterable[str], side: str = "source",
                     max_len: int | None = None) -> list[list[int]]:
        """Encode many texts on one side ("source" or "target") in one call."""
        texts = list(texts)
        if not texts:
            return []
        if side == "source":
            out = self.hf([self.prefix + t for t in texts]).input_ids
        else:
            out = self.hf(text_target=texts).input_ids
            if self.forced_bos_id is not None:  # families whose tokenizer does not prepend the code itself
                out = [ids if ids[:1] == [self.forced_bos_id] else [self.forced_bos_id, *ids] for ids in out]
        return [_truncate([int(i) for i in ids], max_len, self.eos_id) for ids in out]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of target ids: up to the first `</s>`, without language codes and special tokens."""
        kept: list[int] = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in self._drop and 0 <= i < self.vocab_size:
                kept.append(i)
        return str(self.hf.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)).strip()

    def source_pieces(self, ids: Sequence[int]) -> list[str]:
        """The tokens of encoder ids (what CTranslate2 takes as input)."""
        return [str(t) for t in self.hf.convert_ids_to_tokens([int(i) for i in ids])]

    def target_pieces(self, ids: Sequence[int]) -> list[str]:
        return self.source_pieces(ids)

    def target_ids(self, pieces: Sequence[str]) -> list[int]:
        """Decoder ids of tokens (CTranslate2's output); tokens the tokenizer lacks become `<unk>`."""
        ids = self.hf.convert_tokens_to_ids(list(pieces))
        return [int(i) if i is not None else self.unk_id for i in ids]

    def save(self, folder: Path) -> None:
        """Write the tokenizer's files into `folder` (a checkpoint or export folder)."""
        self.hf.save_pretrained(str(folder))
