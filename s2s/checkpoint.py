"""Checkpoint folders: the Hugging Face model files, the tokenizer and a `manifest.json` identity card.

Saving is atomic (a temporary sibling folder renamed into place), so an interrupted save never leaves a
half checkpoint, and refuses a model with a non-finite weight. Loading checks the format version and that
model, tokenizer and caller agree on the vocabulary fingerprint. Any plain Hugging Face folder of a
supported teacher family loads too (an `opus-mt-*` Marian model, T5 / mT5, mBART-50, M2M100 / NLLB; see
`s2s.families`): its manifest is derived from its files, and families with language codes need the
direction (`Languages`) from the caller.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import torch
from transformers import MarianMTModel

from s2s import atomic
from s2s.errors import CheckpointError, VocabularyMismatchError
from s2s.families.base import SeqTokenizer, TeacherFamily
from s2s.families.registry import family_of, get_family, read_config
from s2s.languages import Languages, is_language_code, iso_of
from s2s.presets import count_parameters

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Where trainers record a model's BLEU in `Manifest.metrics`, most preferred first.
BLEU_KEYS = ("bleu", "test_bleu", "bleu_test", "valid_bleu", "bleu_valid")


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint is: identity, lineage, how it was trained and how well it does."""

    model_id: str
    vocab_fingerprint: str
    parameters: int
    format_version: int = FORMAT_VERSION
    parent_teacher: str | None = None
    preset: str | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    family: str = "marian"
    src_lang: str | None = None
    tgt_lang: str | None = None
    task_prefix: str | None = None

    @property
    def languages(self) -> Languages:
        """The translation direction the model was made or exported for (unset parts are None)."""
        return Languages(self.src_lang, self.tgt_lang, self.task_prefix)

    def with_languages(self, languages: Languages) -> Manifest:
        """This manifest with the direction recorded (what is unset stays as it was)."""
        merged = languages.merged(self.languages)
        return replace(self, src_lang=merged.src, tgt_lang=merged.tgt, task_prefix=merged.prefix)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Manifest:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        missing = {"model_id", "vocab_fingerprint", "parameters", "format_version"} - set(data)
        if missing:
            raise CheckpointError(f"{where}: manifest lacks {sorted(missing)}")
        if unknown:
            raise CheckpointError(f"{where}: manifest has unknown fields {sorted(unknown)}")
        return cls(**data)


def model_languages(manifest: Manifest) -> tuple[str, str] | None:
    """The (source, target) ISO language codes of a model, or None when its manifest does not say.

    The recorded direction wins (`src_lang`/`tgt_lang`, written by `kd export --src-lang/--tgt-lang` and for
    every teacher family with codes); else the recipe's corpus columns when both are language codes (how
    `kd train` records what a student was trained on: `es`/`en` for the Bible corpus)."""
    if manifest.src_lang and manifest.tgt_lang:
        return iso_of(manifest.src_lang), iso_of(manifest.tgt_lang)
    data = manifest.recipe.get("data") if isinstance(manifest.recipe, dict) else None
    if isinstance(data, dict):
        src, tgt = data.get("src_col"), data.get("tgt_col")
        if is_language_code(src) and is_language_code(tgt) and src != tgt:
            return str(src), str(tgt)
    return None


@dataclass
class Checkpoint:
    """A loaded checkpoint: model (eval mode), tokenizer, manifest and the model's family."""

    model: Any
    tokenizer: SeqTokenizer
    manifest: Manifest
    path: Path
    family: TeacherFamily


def save_checkpoint(model: MarianMTModel, tokenizer: SeqTokenizer, out_dir: Path, manifest: Manifest) -> Path:
    """Write model, tokenizer and manifest to `out_dir` atomically, replacing an older checkpoint there."""
    out_dir = Path(out_dir)
    check_finite(model, out_dir)
    if manifest.vocab_fingerprint != tokenizer.fingerprint:
        raise VocabularyMismatchError(
            f"manifest fingerprint {manifest.vocab_fingerprint[:16]} != tokenizer {tokenizer.fingerprint[:16]}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save(tmp)
        (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        atomic.swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir



def read_manifest(folder: Path, tokenizer: SeqTokenizer | None = None, languages: Languages | None = None) -> Manifest:
    """The folder's manifest; a plain Hugging Face folder gets one derived from its files (its tokenizer is
    loaded for the fingerprint unless given, so families with language codes need `languages`)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        family = family_of(folder)
        tok = tokenizer or family.load_tokenizer(folder, languages or Languages())
        manifest = Manifest(model_id=folder.resolve().name, vocab_fingerprint=tok.fingerprint, parameters=0,
                            family=family.name)
        return manifest.with_languages(tok.languages)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the checkpoint is damaged") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object; the checkpoint is damaged")
    manifest = Manifest.from_dict(data, str(path))
    if manifest.format_version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format version {manifest.format_version}, this program reads version {FORMAT_VERSION}")
    return manifest


def load_checkpoint(folder: Path, expected_fingerprint: str | None = None, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32, languages: Languages | None = None) -> Checkpoint:
    """Load a checkpoint (or a Hugging Face folder of any supported family) for inference, refusing
    vocabulary mismatches. `languages` sets the direction of a multilingual teacher; what it leaves unset
    comes from the folder's manifest."""
    folder = Path(folder)
    config = read_config(folder)
    stored = read_manifest(folder, languages=languages) if (folder / MANIFEST).is_file() else None
    family = get_family(stored.family) if stored is not None else family_of(folder)
    direction = (languages or Languages()).merged(stored.languages if stored else Languages())
    output_size = _output_vocab_size(config)
    tokenizer = family.load_tokenizer(folder, direction, output_size)
    manifest = stored.with_languages(tokenizer.languages) if stored else read_manifest(folder, tokenizer)
    check_fingerprint(manifest.vocab_fingerprint, tokenizer.fingerprint, f"{folder} manifest", f"{folder} tokenizer")
    if expected_fingerprint is not None:
        check_fingerprint(expected_fingerprint, tokenizer.fingerprint, "expected vocabulary", str(folder))
    model = _load_weights(folder, config, family, dtype)
    if family.name == "marian" and output_size != tokenizer.vocab_size:
        raise VocabularyMismatchError(
            f"{folder}: model vocab_size {output_size} != tokenizer vocabulary {tokenizer.vocab_size}")
    if tokenizer.vocab_size > output_size:
        raise VocabularyMismatchError(
            f"{folder}: the tokenizer has ids up to {tokenizer.vocab_size - 1}, the model only {output_size}")
    freeze_unsaved(model)
    cast(Any, model).to(device).eval()
    if manifest.parameters == 0:
        manifest = replace(manifest, parameters=count_parameters(model))
    return Checkpoint(model, tokenizer, manifest, folder, family)


def _output_vocab_size(config: dict[str, Any]) -> int:
    """The decoder's output size: Marian with separate vocabularies names it `decoder_vocab_size`."""
    size = config.get("decoder_vocab_size") or config.get("vocab_size")
    if not isinstance(size, int) or size < 2:
        raise CheckpointError(f"config.json has no usable vocab_size ({size!r}); the model folder is damaged")
    return size


def _load_weights(folder: Path, config: dict[str, Any], family: TeacherFamily, dtype: torch.dtype) -> Any:
    """The model, with every way a folder's weights fail to load turned into a `CheckpointError`."""
    from s2s.cmlm import CMLMModel, is_cmlm_config

    model_class = CMLMModel if family.name == "marian" and is_cmlm_config(config) else family.model_class()
    try:
        return model_class.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - safetensors, pickle and config errors have many types
        raise CheckpointError(f"{folder}: the model weights do not load ({type(exc).__name__}: {exc}); "
                              "the folder is incomplete or damaged") from exc


def check_finite(model: Any, where: Path) -> None:
    """Refuse to save a model with a NaN or infinite weight (`CheckpointError` naming the tensor): such a
    checkpoint would poison every run that resumes or starts from it."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise CheckpointError(f"not saving {where}: weight {name} holds {bad} NaN or infinite values; "
                                      "the model diverged (see the trainer's nonfinite_step events)")


def freeze_unsaved(model: Any) -> None:
    """Stop training what a checkpoint does not keep. Marian rebuilds its sinusoidal position tables on
    load rather than saving them (`_keys_to_ignore_on_save`); transformers 5 leaves them trainable after
    `from_pretrained`, so a trainer would update tables that the saved student then drops, and the student
    it serves would differ from the one it validated."""
    unsaved = set(getattr(model, "_keys_to_ignore_on_save", None) or [])
    for name, param in model.named_parameters():
        if name in unsaved:
            param.requires_grad_(False)


def check_fingerprint(expected: str, actual: str, expected_name: str, actual_name: str) -> None:
    """Raise a `VocabularyMismatchError` naming both sides when two fingerprints differ."""
    if expected != actual:
        raise VocabularyMismatchError(
            f"vocabulary mismatch: {expected_name} has fingerprint {expected[:16]}…, {actual_name} has "
            f"{actual[:16]}…; teacher, student and tokenizer must share one vocabulary")
