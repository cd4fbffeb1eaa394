"""What the teacher server computes with, built from its settings: one model or an ensemble, on PyTorch or on
CTranslate2.

`load_models` loads every `--model` (members of an ensemble must share one vocabulary: others are refused
naming both folders), makes the CTranslate2 exports the engines need (private temporary folders, removed by
`close`) and returns `TeacherModels`: what Generate runs on, what TopK and Score run on, and the identity the
engine reports and caches under. An ensemble's cache namespace (`teacher_id`) is derived from all its
members' namespaces and the weights, so it never reads a member's entries, nor another weighting's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from s2s.checkpoint import Checkpoint, load_checkpoint
from s2s.teacher.contract import TeacherMember
from s2s.teacher.ensemble import Ensemble, check_members
from services.teacher import cache_codec as codec
from services.teacher.config import ServerConfig
from services.teacher.generate_engine import Ct2Generator, StartupExport

log = logging.getLogger(__name__)


@dataclass
class TeacherModels:
    """The loaded teacher: `checkpoint` is the first member (tokenizer, family, limits); `generator` is what
    Generate runs on (a PyTorch model or an `Ensemble` of them), `scorer` what TopK and Score run on (the
    same, a `Ct2Scorer`, or an `Ensemble` of those); `engine` names the latter (`torch`, `ctranslate2-int8`)."""

    checkpoint: Checkpoint
    generator: Any
    scorer: Any
    model_id: str
    teacher_id: str
    members: tuple[TeacherMember, ...] = ()
    engine: str = "torch"
    ct2_generator: Ct2Generator | None = None
    exports: list[StartupExport] = field(default_factory=list)

    def close(self) -> None:
        """Remove the start-up exports."""
        if self.ct2_generator is not None:
            self.ct2_generator.close()
        for export in self.exports:
            export.close()


def load_models(config: ServerConfig, device: torch.device, dtype: torch.dtype,
                checkpoints: Sequence[Checkpoint] | None = None) -> TeacherModels:
    """Load `config.model` (or take `checkpoints`, already loaded) and build the engines the settings ask for."""
    loaded = list(checkpoints) if checkpoints else [
        load_checkpoint(folder, device=device, dtype=dtype, languages=config.languages) for folder in config.model]
    check_members(loaded)
    ids = [codec.teacher_id(c.manifest.model_id, c.path) for c in loaded]
    weights = config.mixture_weights if len(loaded) == len(config.model) else (1.0,)
    if len(loaded) == 1:
        models = TeacherModels(loaded[0], loaded[0].model, loaded[0].model, loaded[0].manifest.model_id, ids[0])
    else:
        model_id = "+".join(c.manifest.model_id for c in loaded)
        members = tuple(TeacherMember(c.manifest.model_id, w, i) for c, w, i in zip(loaded, weights, ids, strict=True))
        ensemble = Ensemble([c.model for c in loaded], weights)
        models = TeacherModels(loaded[0], ensemble, ensemble, model_id, codec.ensemble_id(model_id, ids, weights),
                               members)
        log.info("ensemble of %d teachers: %s", len(loaded),
                 ", ".join(f"{m.model_id} ({m.weight:.3g})" for m in members))
    try:
        _add_ct2_engines(models, loaded, weights, config, device)
    except BaseException:
        models.close()
        raise
    return models


def _add_ct2_engines(models: TeacherModels, loaded: list[Checkpoint], weights: Sequence[float],
                     config: ServerConfig, device: torch.device) -> None:
    """The CTranslate2 exports and engines the settings ask for (one export shared where both need it)."""
    threads = config.threads or 0
    if config.engine == "ctranslate2":
        from s2s.teacher.ct2_scorer import Ct2Scorer

        scorers = []
        for checkpoint in loaded:
            export = StartupExport(checkpoint.path, config.engine_quantization, config.languages)
            models.exports.append(export)
            scorers.append(Ct2Scorer(export.folder, checkpoint.model.config, str(device), threads))
        models.scorer = scorers[0] if len(scorers) == 1 else Ensemble(scorers, weights)
        models.engine = f"ctranslate2-{config.engine_quantization}"
    if config.generate_engine == "ctranslate2":
        shared = next((e for e in models.exports if e.quantization == config.generate_quantization), None)
        models.ct2_generator = Ct2Generator(loaded[0].path, config.generate_quantization, threads, config.languages,
                                            export=shared)
