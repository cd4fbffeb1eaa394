"""Training checkpoints: the student as an s2s checkpoint, plus optimiser, schedule and loop position.

A training checkpoint folder holds `student/` (written by `s2s.checkpoint.save_checkpoint`, so it is a
loadable model on its own), `optimizer.pt` (Adam and LR-schedule state) and `progress.json` (step, epoch
and how many batches of that epoch were consumed). Ray Train copies the folder into the run's storage;
a restarted or resumed worker restores all three and skips the batches it had already trained on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import MarianMTModel

from s2s.checkpoint import Manifest, load_checkpoint, save_checkpoint
from s2s.cmlm import CMLMModel, build_cmlm, cmlm_config
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import Tokenizer
from student_trainer.recipe import Recipe, StudentSpec

MODEL_DIR, OPTIMIZER_FILE, PROGRESS_FILE = "student", "optimizer.pt", "progress.json"


@dataclass
class Progress:
    """Where the training loop is: optimiser steps done, current epoch and batches consumed in it, and the
    best validation so far (for early stopping and keep-best)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    target_tokens: int = 0
    best_bleu: float | None = None
    best_step: int = 0
    evals_since_best: int = 0
    stopped_early: bool = False


def build_student(spec: StudentSpec, tokenizer: Tokenizer) -> MarianMTModel:
    """A fresh student of `spec.preset`, or the checkpoint `spec.init_from` (same vocabulary required)."""
    if spec.arch == "cmlm":
        return build_cmlm_student(spec, tokenizer)  # type: ignore[return-value]
    if spec.init_from:
        return load_checkpoint(Path(spec.init_from), expected_fingerprint=tokenizer.fingerprint).model.train()
    return build_model(spec.preset, tokenizer, seed=spec.seed).train()


def build_cmlm_student(spec: StudentSpec, tokenizer: Tokenizer) -> CMLMModel:
    """A fresh CMLM, a CMLM checkpoint, or a CMLM started from an autoregressive checkpoint's weights."""
    if not spec.init_from:
        return build_cmlm(spec.preset, tokenizer, seed=spec.seed).train()
    start = load_checkpoint(Path(spec.init_from), expected_fingerprint=tokenizer.fingerprint).model
    if isinstance(start, CMLMModel):
        return start.train()
    torch.manual_seed(spec.seed)
    model = CMLMModel(cmlm_config(start.config, tokenizer.unk_id))
    missing, unexpected = model.load_state_dict(start.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("length_embed") or "embed_tokens" in k or k == "lm_head.weight"
                                  for k in missing), (missing, unexpected)
    return model.train()


def student_manifest(recipe: Recipe, recipe_data: dict[str, Any], tokenizer: Tokenizer, model: MarianMTModel,
                     model_id: str, parent_teacher: str | None, metrics: dict[str, Any]) -> Manifest:
    """The manifest of a student checkpoint: lineage, recipe and metrics."""
    preset = None if recipe.student.init_from else recipe.student.preset
    return Manifest(model_id=model_id, vocab_fingerprint=tokenizer.fingerprint,
                    parameters=count_parameters(model), parent_teacher=parent_teacher, preset=preset,
                    recipe=recipe_data, metrics=metrics)


def save_training_checkpoint(folder: Path, model: MarianMTModel, tokenizer: Tokenizer,
                             optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                             progress: Progress, manifest: Manifest) -> Path:
    """Write student, optimiser state and progress into `folder` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, tokenizer, folder / MODEL_DIR, manifest)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, folder / OPTIMIZER_FILE)
    (folder / PROGRESS_FILE).write_text(json.dumps(asdict(progress)), encoding="utf-8")
    return folder


def restore_training_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                                scheduler: torch.optim.lr_scheduler.LRScheduler,
                                tokenizer: Tokenizer) -> Progress:
    """Load weights, optimiser and schedule state from a training checkpoint; returns where to continue."""
    folder = Path(folder)
    saved = load_checkpoint(folder / MODEL_DIR, expected_fingerprint=tokenizer.fingerprint)
    model.load_state_dict(saved.model.state_dict())
    device = next(model.parameters()).device
    states = torch.load(folder / OPTIMIZER_FILE, map_location=device, weights_only=True)
    optimizer.load_state_dict(states["optimizer"])
    scheduler.load_state_dict(states["scheduler"])
    return Progress(**json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8")))
