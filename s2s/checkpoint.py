"""Checkpoint folders: the Hugging Face Marian files, the tokenizer and a `manifest.json` identity card.

Saving is atomic (a temporary sibling folder renamed into place), so an interrupted save never leaves a
half checkpoint. Loading checks the format version and that model, tokenizer and caller agree on the
vocabulary fingerprint. Any plain Hugging Face Marian folder (e.g. an `opus-mt-*` download) loads too.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from transformers import MarianMTModel

from s2s import atomic
from s2s.errors import CheckpointError, VocabularyMismatchError
from s2s.presets import count_parameters
from s2s.tokenizer import Tokenizer

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
    source_lang: str | None = None
    target_lang: str | None = None
    """The language pair, when declared (`kd export --source-lang/--target-lang`); `s2s.languages` also
    reads it from the recipe's corpus columns."""

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


@dataclass
class Checkpoint:
    """A loaded checkpoint: model (eval mode), tokenizer and manifest."""

    model: MarianMTModel
    tokenizer: Tokenizer
    manifest: Manifest
    path: Path


def save_checkpoint(model: MarianMTModel, tokenizer: Tokenizer, out_dir: Path, manifest: Manifest) -> Path:
    """Write model, tokenizer and manifest to `out_dir` atomically, replacing an older checkpoint there."""
    out_dir = Path(out_dir)
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



def read_manifest(folder: Path, tokenizer: Tokenizer | None = None) -> Manifest:
    """The folder's manifest; a plain HF Marian folder gets one derived from its files."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        tok = tokenizer or Tokenizer(folder)
        return Manifest(model_id=folder.resolve().name, vocab_fingerprint=tok.fingerprint, parameters=0)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the checkpoint is damaged") from exc
    manifest = Manifest.from_dict(data, str(path))
    if manifest.format_version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format version {manifest.format_version}, this program reads version {FORMAT_VERSION}")
    return manifest


def load_checkpoint(folder: Path, expected_fingerprint: str | None = None, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> Checkpoint:
    """Load a checkpoint (or HF Marian folder) for inference, refusing vocabulary mismatches."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder} is not a model folder (no config.json)")
    tokenizer = Tokenizer(folder)
    manifest = read_manifest(folder, tokenizer)
    check_fingerprint(manifest.vocab_fingerprint, tokenizer.fingerprint, f"{folder} manifest", f"{folder} tokenizer")
    if expected_fingerprint is not None:
        check_fingerprint(expected_fingerprint, tokenizer.fingerprint, "expected vocabulary", str(folder))
    model = _model_class(folder).from_pretrained(folder, dtype=dtype)
    if model.config.vocab_size != tokenizer.vocab_size:
        raise VocabularyMismatchError(
            f"{folder}: model vocab_size {model.config.vocab_size} != tokenizer vocabulary {tokenizer.vocab_size}")
    freeze_unsaved(model)
    cast(Any, model).to(device).eval()
    if manifest.parameters == 0:
        manifest = Manifest(**{**asdict(manifest), "parameters": count_parameters(model)})
    return Checkpoint(model, tokenizer, manifest, folder)


def freeze_unsaved(model: Any) -> None:
    """Stop training what a checkpoint does not keep. Marian rebuilds its sinusoidal position tables on
    load rather than saving them (`_keys_to_ignore_on_save`); transformers 5 leaves them trainable after
    `from_pretrained`, so a trainer would update tables that the saved student then drops, and the student
    it serves would differ from the one it validated."""
    unsaved = set(getattr(model, "_keys_to_ignore_on_save", None) or [])
    for name, param in model.named_parameters():
        if name in unsaved:
            param.requires_grad_(False)


def _model_class(folder: Path) -> Any:
    """MarianMTModel, or the CMLM class for a folder that holds a Mask-Predict student."""
    from s2s.cmlm import CMLMModel, is_cmlm_config

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{folder}/config.json is not valid JSON ({exc}); the checkpoint is damaged") from exc
    return CMLMModel if is_cmlm_config(config) else MarianMTModel


def check_fingerprint(expected: str, actual: str, expected_name: str, actual_name: str) -> None:
    """Raise a `VocabularyMismatchError` naming both sides when two fingerprints differ."""
    if expected != actual:
        raise VocabularyMismatchError(
            f"vocabulary mismatch: {expected_name} has fingerprint {expected[:16]}…, {actual_name} has "
            f"{actual[:16]}…; teacher, student and tokenizer must share one vocabulary")
