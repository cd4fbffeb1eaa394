"""The teacher families, declared once: recognising a model folder's family and loading its tokenizer.

Everything that takes a teacher folder (the teacher service, `kd translate`, `kd evaluate`, `kd export`,
the Seq-KD path) asks `family_of(folder)` instead of checking file names or model types itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s2s.errors import CheckpointError
from s2s.families.base import SeqTokenizer, TeacherFamily
from s2s.families.hf_families import M2M100Family, MBart50Family, T5Family
from s2s.families.marian import MarianFamily
from s2s.languages import Languages

FAMILIES: dict[str, TeacherFamily] = {f.name: f for f in (MarianFamily(), T5Family(), MBart50Family(),
                                                            M2M100Family())}


def read_config(folder: Path) -> dict[str, Any]:
    """A model folder's `config.json`, with clear errors for a missing or damaged one."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} is not a model folder (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the model folder is damaged") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return config


def family_of(folder: Path) -> TeacherFamily:
    """The family of a model folder, or an error naming its type and the supported families."""
    config = read_config(folder)
    for family in FAMILIES.values():
        if family.matches(config, Path(folder)):
            return family
    supported = "; ".join(f.describe() for f in FAMILIES.values())
    kind = config.get("model_type") or config.get("architectures") or "no model_type"
    raise CheckpointError(f"{folder} holds a {kind} model, which this project cannot use as a teacher. "
                          f"Supported families: {supported}")


def get_family(name: str) -> TeacherFamily:
    if name not in FAMILIES:
        raise CheckpointError(f"unknown teacher family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def load_tokenizer(folder: Path, languages: Languages | None = None, vocab_size: int | None = None) -> SeqTokenizer:
    """The tokenizer of a model or export folder of any family, set up for `languages`."""
    return family_of(folder).load_tokenizer(Path(folder), languages or Languages(), vocab_size)
