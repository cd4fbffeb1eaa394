"""Named model sizes and building a randomly initialised Marian model for a tokenizer."""

from __future__ import annotations

from dataclasses import dataclass

from transformers import MarianConfig, MarianMTModel

from s2s.errors import KDError
from s2s.tokenizer import Tokenizer


@dataclass(frozen=True)
class ModelPreset:
    """Transformer shape of a Marian encoder-decoder (the design's reference configurations)."""

    encoder_layers: int
    decoder_layers: int
    d_model: int
    heads: int
    ffn_dim: int
    dropout: float = 0.1
    max_positions: int = 256


PRESETS: dict[str, ModelPreset] = {
    "teacher-small": ModelPreset(3, 3, 256, 4, 1024),
    "student-tiny": ModelPreset(1, 1, 128, 2, 512),
    "student-small": ModelPreset(3, 1, 256, 4, 1024),
    # For tests and smoke runs only: builds in milliseconds.
    "test-micro": ModelPreset(1, 1, 32, 2, 64, dropout=0.0, max_positions=128),
}


def get_preset(name: str) -> ModelPreset:
    """The preset called `name`, or an error listing the known ones."""
    if name not in PRESETS:
        raise KDError(f"unknown model preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def marian_config(preset: ModelPreset, tokenizer: Tokenizer) -> MarianConfig:
    """A Marian config with shared, tied embeddings over the tokenizer's joint vocabulary."""
    return MarianConfig(
        vocab_size=tokenizer.vocab_size, decoder_vocab_size=tokenizer.vocab_size,
        d_model=preset.d_model, encoder_layers=preset.encoder_layers, decoder_layers=preset.decoder_layers,
        encoder_attention_heads=preset.heads, decoder_attention_heads=preset.heads,
        encoder_ffn_dim=preset.ffn_dim, decoder_ffn_dim=preset.ffn_dim, dropout=preset.dropout,
        attention_dropout=0.0, activation_dropout=0.0, max_position_embeddings=preset.max_positions,
        pad_token_id=tokenizer.pad_id, eos_token_id=tokenizer.eos_id, forced_eos_token_id=tokenizer.eos_id,
        decoder_start_token_id=tokenizer.pad_id, share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True, scale_embedding=True, activation_function="gelu",
    )


def build_model(preset: str | ModelPreset, tokenizer: Tokenizer, seed: int = 0) -> MarianMTModel:
    """A freshly initialised Marian model of the given preset (deterministic for a given seed)."""
    import torch

    shape = get_preset(preset) if isinstance(preset, str) else preset
    torch.manual_seed(seed)
    return MarianMTModel(marian_config(shape, tokenizer))


def count_parameters(model: MarianMTModel) -> int:
    """Unique trainable parameters (tied embeddings counted once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total
