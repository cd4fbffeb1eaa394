"""A conditional masked language model (Mask-Predict, Ghazvininejad et al. 2019) on Marian building blocks.

The encoder and the decoder layers are Marian's, but the decoder attends in both directions (no causal
mask): it reads a whole target in which some positions are the mask token and predicts every position at
once. The mask token is `<unk>` (as in fairseq's CMLM), so the vocabulary, and its fingerprint, stay the
teacher's. A length predictor (fairseq's form: the mean of the encoder states over real source positions,
scored against one embedding per length) proposes how many tokens to decode. Targets are the translation's
tokens without the final `</s>`: the length says where a translation ends.

Training (`s2s.losses.cmlm_loss`) masks a uniform number 1..L of a target's L positions; decoding
(`s2s.mask_predict`) starts from all masks and re-predicts the least confident tokens for T iterations.
The model saves and loads like any Hugging Face model; `is_cmlm` tells a checkpoint folder holding one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import MarianConfig
from transformers.models.marian.modeling_marian import MarianModel, MarianPreTrainedModel

from s2s.errors import KDError

LENGTH_CLASSES = 256


def is_cmlm_config(config: Any) -> bool:
    """Whether a model config (or a config.json dict) describes a CMLM."""
    value = config.get("cmlm") if isinstance(config, dict) else getattr(config, "cmlm", False)
    return bool(value)


def additive_mask(keep: torch.Tensor, queries: int, dtype: torch.dtype) -> torch.Tensor:
    """[B, 1, queries, K] additive attention mask from a [B, K] keep mask (0 where kept, a large negative
    number elsewhere), so that every query sees every real key: no causal structure."""
    blocked = torch.finfo(dtype).min
    mask = torch.zeros(keep.shape[0], 1, queries, keep.shape[1], dtype=dtype, device=keep.device)
    return mask.masked_fill(~keep.bool()[:, None, None, :], blocked)


class CMLMModel(MarianPreTrainedModel):
    """Marian encoder, bidirectional Marian decoder, tied output layer and a length predictor."""

    def __init__(self, config: MarianConfig) -> None:
        super().__init__(config)
        config.cmlm = True
        config.length_classes = getattr(config, "length_classes", LENGTH_CLASSES)
        self.model = MarianModel(config)
        self._tied_weights_keys = {"lm_head.weight": "model.shared.weight",
                                   "model.decoder.embed_tokens.weight": "model.shared.weight",
                                   "model.encoder.embed_tokens.weight": "model.shared.weight"}
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.final_logits_bias = nn.Buffer(torch.zeros((1, config.vocab_size)))
        self.length_embed = nn.Embedding(config.length_classes, config.d_model)
        for layer in self.model.decoder.layers:
            layer.self_attn.is_causal = False
        self.post_init()

    @property
    def mask_id(self) -> int:
        return int(self.config.mask_token_id)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.shared

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, S, d] encoder states."""
        out = self.model.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state  # type: ignore[no-any-return]

    def length_logits(self, encoded: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, C] log-probabilities of each target length; length 0 is impossible."""
        keep = attention_mask.to(encoded.dtype).unsqueeze(-1)
        pooled = (encoded * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        logits = pooled @ self.length_embed.weight.t()
        logits[:, 0] = torch.finfo(logits.dtype).min
        return torch.log_softmax(logits.float(), dim=-1)

    def decode(self, decoder_input_ids: torch.Tensor, decoder_mask: torch.Tensor, encoded: torch.Tensor,
               attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, T, V] token logits for every position of a (partly masked) target, read in both directions."""
        return self.project(self.decode_hidden(decoder_input_ids, decoder_mask, encoded, attention_mask))

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """[..., V] token logits of decoder states [..., d]: mask-predict projects only the positions it
        re-predicts, since at d 256 the output layer costs more per position than the decoder layer."""
        return self.lm_head(hidden) + self.final_logits_bias[0].to(hidden.dtype)  # type: ignore[no-any-return]

    def decode_hidden(self, decoder_input_ids: torch.Tensor, decoder_mask: torch.Tensor, encoded: torch.Tensor,
                      attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, T, d] decoder states of every position of a (partly masked) target."""
        dec = self.model.decoder
        embeds = dec.embed_tokens(decoder_input_ids) * dec.embed_scale
        batch, length = decoder_input_ids.shape
        positions = dec.embed_positions((batch, length), 0,
                                        position_ids=torch.arange(length, device=embeds.device))
        hidden = nn.functional.dropout(embeds + positions, p=dec.dropout, training=self.training)
        self_mask = additive_mask(decoder_mask, length, hidden.dtype)
        cross_mask = additive_mask(attention_mask, length, hidden.dtype)
        for layer in dec.layers:
            hidden = layer(hidden, self_mask, encoded, encoder_attention_mask=cross_mask, cache=None,
                           use_cache=False)
        return hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, decoder_input_ids: torch.Tensor,
                decoder_attention_mask: torch.Tensor, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(token logits [B, T, V], length log-probabilities [B, C])."""
        encoded = self.encode(input_ids, attention_mask)
        return (self.decode(decoder_input_ids, decoder_attention_mask, encoded, attention_mask),
                self.length_logits(encoded, attention_mask))


def cmlm_config(base: MarianConfig, mask_token_id: int, length_classes: int = LENGTH_CLASSES) -> MarianConfig:
    """A copy of an AR student's config for a CMLM of the same shape."""
    if length_classes < 3:
        raise KDError(f"a CMLM needs at least 3 length classes, got {length_classes}")
    data = {**base.to_dict(), "cmlm": True, "mask_token_id": int(mask_token_id), "length_classes": length_classes,
            "architectures": ["CMLMModel"]}
    return MarianConfig.from_dict(data)


def build_cmlm(preset: str, tokenizer: Any, seed: int = 0) -> CMLMModel:
    """A freshly initialised CMLM of a preset's shape (mask token `<unk>`), deterministic for a seed."""
    from s2s.presets import get_preset, marian_config

    torch.manual_seed(seed)
    return CMLMModel(cmlm_config(marian_config(get_preset(preset), tokenizer), tokenizer.unk_id))


def random_mask(targets: list[list[int]], mask_id: int, generator: torch.Generator) -> tuple[list[list[int]],
                                                                                             list[list[bool]]]:
    """Mask a uniform number n in 1..L of each target's L positions, chosen uniformly without replacement.

    Returns the decoder inputs (masked positions set to `mask_id`) and the masked positions."""
    inputs, masked = [], []
    for target in targets:
        length = len(target)
        if length == 0:
            raise KDError("a CMLM target needs at least one token")
        n = int(torch.randint(1, length + 1, (1,), generator=generator))
        chosen = set(torch.randperm(length, generator=generator)[:n].tolist())
        masked.append([i in chosen for i in range(length)])
        inputs.append([mask_id if i in chosen else tok for i, tok in enumerate(target)])
    return inputs, masked
