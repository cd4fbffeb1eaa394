"""Shrink a teacher into a student that starts from the teacher's own weights ("shrink and fine-tune").

A student with the teacher's width keeps its embeddings (and output layer, which they tie), positional
embeddings, a chosen subset of encoder layers and a chosen subset of decoder layers, renumbered in
order. Copied as is, a 3/1 student is a poor translator (its one decoder layer was trained to feed two
more), but it starts from representations that a few hundred fine-tuning steps put to use, where a
random student needs thousands. Bergamot's fast CPU students have this shape: deep encoder, shallow
decoder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import MarianConfig, MarianMTModel

from s2s.errors import KDError

_LAYER_KEY = re.compile(r"^model\.(encoder|decoder)\.layers\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class ShrinkPlan:
    """Which of the teacher's layers the student keeps, in the student's order."""

    encoder_layers: tuple[int, ...]
    decoder_layers: tuple[int, ...]


def plan_layers(teacher_config: MarianConfig, encoder: Sequence[int] | None,
                decoder: Sequence[int] | None) -> ShrinkPlan:
    """Check a layer choice against the teacher (None keeps every layer of that stack)."""
    chosen = {}
    for side, wanted, available in (("encoder", encoder, teacher_config.encoder_layers),
                                    ("decoder", decoder, teacher_config.decoder_layers)):
        layers = tuple(range(available)) if wanted is None else tuple(int(i) for i in wanted)
        if not layers:
            raise KDError(f"a student needs at least one {side} layer")
        if len(set(layers)) != len(layers) or any(not 0 <= i < available for i in layers):
            raise KDError(f"{side} layers {list(layers)} must be distinct indices in 0..{available - 1} "
                          f"(the teacher has {available} {side} layers)")
        chosen[side] = layers
    return ShrinkPlan(chosen["encoder"], chosen["decoder"])


def shrink(teacher: MarianMTModel, plan: ShrinkPlan) -> MarianMTModel:
    """A new Marian model with the teacher's width and the planned layers, weights copied from the teacher."""
    config = MarianConfig.from_dict({**teacher.config.to_dict(), "encoder_layers": len(plan.encoder_layers),
                                     "decoder_layers": len(plan.decoder_layers)})
    student = MarianMTModel(config)
    source = teacher.state_dict()
    renumber = {"encoder": {old: new for new, old in enumerate(plan.encoder_layers)},
                "decoder": {old: new for new, old in enumerate(plan.decoder_layers)}}
    target: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        match = _LAYER_KEY.match(key)
        if match is None:
            target[key] = value.clone()
            continue
        side, index, rest = match.group(1), int(match.group(2)), match.group(3)
        if index in renumber[side]:
            target[f"model.{side}.layers.{renumber[side][index]}.{rest}"] = value.clone()
    missing, unexpected = student.load_state_dict(target, strict=False)
    # Tied weights (decoder/encoder embed_tokens, lm_head) may be reported as missing aliases; nothing else.
    real_missing = [k for k in missing if not k.endswith("embed_tokens.weight") and k != "lm_head.weight"]
    if real_missing or unexpected:
        raise KDError(f"shrink could not map the teacher's weights: missing {real_missing}, "
                      f"unexpected {list(unexpected)}")
    student.tie_weights()
    return student.eval()
