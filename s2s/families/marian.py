"""Marian: the project's own models, and Marian models as published (opus-mt), joint or separate vocabularies.

Both read with the project's SentencePiece tokenizer (`s2s.tokenizer.Tokenizer`), which keeps the ids the
model was trained with and the `<pad>`-last layout CTranslate2's Marian converter needs. Only Marian
teachers with a joint vocabulary can hand their vocabulary (and weights) down to a student.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s2s.families.base import SeqTokenizer, TeacherFamily
from s2s.languages import Languages
from s2s.tokenizer import Tokenizer


class MarianFamily(TeacherFamily):
    """`model_type: marian` folders with `source.spm`, `target.spm`, `vocab.json` (+ `target_vocab.json`)."""

    name, title, model_types = "marian", "Marian (opus-mt layout)", ("marian",)

    def load_tokenizer(self, folder: Path, languages: Languages, vocab_size: int | None = None) -> SeqTokenizer:
        return Tokenizer(folder, languages)

    def model_class(self) -> Any:
        from transformers import MarianMTModel

        return MarianMTModel
