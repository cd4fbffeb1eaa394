"""What every teacher family provides: a tokenizer with one interface, and how to load and convert it.

`SeqTokenizer` is the interface the rest of the project codes against (the trainer, the teacher service,
decoding, evaluation, CTranslate2 exports). The project's own Marian tokenizer (`s2s.tokenizer.Tokenizer`)
and the adapter over Hugging Face tokenizers (`s2s.families.hf_tokenizer.HFTokenizer`) both implement it.
Ids are always the model's: sources in its encoder vocabulary, targets (labels, TopK ids, outputs) in its
decoder vocabulary, which differ only for Marian models with separate vocabularies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from s2s.languages import Languages


@runtime_checkable
class SeqTokenizer(Protocol):
    """Text to model ids and back, for one translation direction."""

    folder: Path
    vocab_size: int
    """Size of the target (decoder output) vocabulary: the range of label, TopK and output ids."""
    pad_id: int
    eos_id: int
    unk_id: int
    fingerprint: str
    """sha256 identifying the vocabulary (both sides when they differ)."""
    forced_bos_id: int | None
    """The token every target starts with (a language code), or None."""
    languages: Languages

    def encode_source(self, text: str, max_len: int | None = None) -> list[int]: ...

    def encode_target(self, text: str, max_len: int | None = None) -> list[int]: ...

    def encode_batch(self, texts: Iterable[str], side: str = "source",
                     max_len: int | None = None) -> list[list[int]]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def source_pieces(self, ids: Sequence[int]) -> list[str]: ...

    def target_pieces(self, ids: Sequence[int]) -> list[str]: ...

    def target_ids(self, pieces: Sequence[str]) -> list[int]: ...

    def save(self, folder: Path) -> None: ...


class TeacherFamily(ABC):
    """One family of Hugging Face seq2seq models: how to recognise, tokenise and convert it.

    Families are registered once in `s2s.families.registry`; everything else asks the registry."""

    name: str
    """Registry key, also written to manifests (`marian`, `t5`, `mbart50`, `m2m100`)."""
    model_types: tuple[str, ...]
    """`model_type` values of `config.json` this family reads."""
    title: str
    """How docs and messages name the family."""
    language_codes: bool = False
    """Whether the model needs source and target language codes (`--src-lang` / `--tgt-lang`)."""

    def matches(self, config: dict[str, Any], folder: Path) -> bool:
        """Whether a model folder with this `config.json` belongs to the family."""
        return config.get("model_type") in self.model_types

    @abstractmethod
    def load_tokenizer(self, folder: Path, languages: Languages, vocab_size: int | None = None) -> SeqTokenizer:
        """The folder's tokenizer set up for `languages`; `vocab_size` is the model's output size when known."""

    def model_class(self) -> Any:
        """The transformers class that loads the folder's weights."""
        from transformers import AutoModelForSeq2SeqLM

        return AutoModelForSeq2SeqLM

    def prepare_for_ct2(self, model: Any, tokenizer: Any) -> None:
        """Fill in config or tokenizer attributes that CTranslate2's converter reads but the folder lacks
        (nothing, for most families)."""
        return None

    def describe(self) -> str:
        needs = " (needs --src-lang/--tgt-lang)" if self.language_codes else ""
        return f"{self.name}: {self.title}{needs}"


def max_positions(config: Any) -> int:
    """Longest sequence a model's positions allow: `max_position_embeddings`, or for T5's relative
    positions (no hard limit) its `n_positions` (512 by default)."""
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 512
