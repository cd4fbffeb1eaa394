"""CTranslate2 model specs built from an already loaded checkpoint of any teacher family (no hub, no network).

Marian (the project's models and opus-mt ones, joint or separate vocabularies): CTranslate2's stock Marian
converter drops the `<pad>` row and starts the decoder from a zero embedding. That equals the PyTorch model
only while the `<pad>` embedding is zero; with tied embeddings, training moves that row through the output
projection, so the decoder would start differently. `_PadStartMarianLoader` keeps `<pad>` and starts from
its real embedding, which makes a float32 export decode exactly like `s2s.decoding.translate`, and registers
the source and target vocabularies separately when they differ.

Other families (T5 / mT5, mBART-50, M2M100 / NLLB) use CTranslate2's own loader for their architecture with
two changes: the vocabulary is the tokenizer's tokens in id order (padded with placeholder tokens up to the
model's output size), so that CTranslate2's ids are the model's ids whatever the tokenizer's quirks; and the
family fills in what its converter reads but a transformers 5 folder may lack (`prepare_for_ct2`).
"""

from __future__ import annotations

from typing import Any

from ctranslate2.converters import transformers as ct2_transformers
from ctranslate2.converters.converter import Converter
from ctranslate2.converters.transformers import BartLoader, MarianMTLoader

from s2s.checkpoint import Checkpoint
from s2s.errors import CheckpointError
from s2s.tokenizer import Tokenizer


class _PadStartMarianLoader(MarianMTLoader):
    """Marian loader that keeps `<pad>` (HF's decoder start) and its embedding instead of a zero vector."""

    def __call__(self, model: Any, tokenizer: Tokenizer) -> Any:
        self._source_tokens = tokenizer.source_pieces(range(tokenizer.source_vocab_size))
        return super().__call__(model, tokenizer)

    def get_model_spec(self, model: Any) -> Any:
        model.config.normalize_before = False
        model.config.normalize_embedding = False
        return BartLoader.get_model_spec(self, model)

    def set_config(self, config: Any, model: Any, tokenizer: Tokenizer) -> None:
        config.bos_token = "<s>"
        config.eos_token = tokenizer.id_to_piece[tokenizer.eos_id]
        config.unk_token = tokenizer.id_to_piece[tokenizer.unk_id]
        config.decoder_start_token = tokenizer.id_to_piece[model.config.decoder_start_token_id]

    def set_decoder(self, spec: Any, decoder: Any) -> None:
        BartLoader.set_decoder(self, spec, decoder)

    def get_vocabulary(self, model: Any, tokenizer: Tokenizer) -> list[str]:
        return tokenizer.target_pieces(range(tokenizer.vocab_size))

    def set_vocabulary(self, spec: Any, tokens: list[str]) -> None:
        spec.register_source_vocabulary(self._source_tokens)
        spec.register_target_vocabulary(tokens)


def _tokens_in_id_order(model: Any, tokenizer: Any) -> list[str]:
    """Token of every output id 0..vocab_size-1; ids the tokenizer has no token for get a placeholder."""
    tokens = []
    for i in range(int(model.config.vocab_size)):
        try:
            token = tokenizer.convert_ids_to_tokens(i)
        except (IndexError, KeyError, ValueError):
            token = None
        tokens.append(token if isinstance(token, str) and token else f"madeupword{i}")
    return tokens


def _family_loader(checkpoint: Checkpoint) -> Any:
    """CTranslate2's loader for the checkpoint's architecture, with the vocabulary taken in id order."""
    config_name = type(checkpoint.model.config).__name__
    base = ct2_transformers._MODEL_LOADERS.get(config_name)
    if base is None:
        raise CheckpointError(f"CTranslate2 {ct2_transformers.__name__} cannot convert a {config_name} model")

    class InIdOrder(type(base)):  # type: ignore[misc]
        def get_vocabulary(self, model: Any, tokenizer: Any) -> list[str]:
            return _tokens_in_id_order(model, tokenizer)

    return InIdOrder()


class CheckpointConverter(Converter):  # type: ignore[misc]
    """Builds the CTranslate2 spec from a loaded checkpoint of any supported family."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self._checkpoint = checkpoint

    def _load(self) -> Any:
        ckpt = self._checkpoint
        if ckpt.family.name == "marian":
            assert isinstance(ckpt.tokenizer, Tokenizer)  # the Marian family reads with the project's tokenizer
            return _PadStartMarianLoader()(ckpt.model, ckpt.tokenizer)
        hf = ckpt.tokenizer.hf  # type: ignore[attr-defined]
        ckpt.family.prepare_for_ct2(ckpt.model, hf)
        return _family_loader(ckpt)(ckpt.model, hf)
