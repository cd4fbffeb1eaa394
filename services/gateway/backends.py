"""Loading one model folder into something that translates: CTranslate2 for exports, PyTorch otherwise.

A `LoadedModel` is immutable once built. The registry swaps whole `LoadedModel`s, and a request keeps
the one it resolved, so a reload never changes a model under a running batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from s2s.checkpoint import BLEU_KEYS, Manifest, load_checkpoint
from s2s.cmlm import CMLMModel
from s2s.ct2_runtime import Ct2Model, is_export, length_groups
from s2s.decoding import generate_nbest
from s2s.mask_predict import translate_cmlm


class Backend(Protocol):
    """Translates a batch of texts; called from a worker thread, never on the event loop."""

    name: str
    quantization: str
    max_positions: int

    decoding: str

    def translate(self, texts: Sequence[str], beam_size: int, max_lengths: Sequence[int],
                  iterations: int = 10) -> list[str]: ...

    def translate_nbest(self, texts: Sequence[str], beam_size: int, nbest: int, max_length: int) -> list[list[str]]:
        """The `nbest` best translations of each text by beam search, best first (autoregressive models)."""
        ...

    def source_tokens(self, text: str) -> int: ...


class Ct2Backend:
    """An export served by CTranslate2 (the production path)."""

    name = "ctranslate2"
    decoding = "autoregressive"

    def __init__(self, folder: Path, threads: int) -> None:
        self.model = Ct2Model(folder, threads=threads)
        self.quantization = self.model.info.quantization
        self.max_positions = self.model.info.max_source_positions
        self.manifest = self.model.manifest

    def translate(self, texts: Sequence[str], beam_size: int, max_lengths: Sequence[int],
                  iterations: int = 10) -> list[str]:
        return self.model.translate(texts, beam_size=beam_size, max_len=max_lengths, max_batch_size=len(texts))

    def translate_nbest(self, texts: Sequence[str], beam_size: int, nbest: int, max_length: int) -> list[list[str]]:
        tok = self.model.tokenizer
        sources = [tok.encode_source(t, self.max_positions) for t in texts]
        hyps = self.model.nbest(sources, beam_size, nbest, max_length, max_batch_size=len(texts))
        return [[tok.decode(h.ids) for h in text_hyps] for text_hyps in hyps]

    def source_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.encode_source(text))


class TorchBackend:
    """A plain checkpoint folder served by PyTorch (the fallback and the reference), autoregressive or a
    Mask-Predict student (which CTranslate2 cannot run)."""

    name = "pytorch"
    quantization = "float32"

    def __init__(self, folder: Path, threads: int) -> None:
        torch.set_num_threads(threads)  # process-wide: the gateway's CPU thread setting applies to PyTorch too
        self.checkpoint = load_checkpoint(folder)
        self.decoding = "mask-predict" if isinstance(self.checkpoint.model, CMLMModel) else "autoregressive"
        self.max_positions = int(self.checkpoint.model.config.max_position_embeddings)
        self.manifest = self.checkpoint.manifest

    def source_tokens(self, text: str) -> int:
        return len(self.checkpoint.tokenizer.encode_source(text))

    def translate_nbest(self, texts: Sequence[str], beam_size: int, nbest: int, max_length: int) -> list[list[str]]:
        model, tok = self.checkpoint.model, self.checkpoint.tokenizer
        if isinstance(model, CMLMModel):
            raise ValueError("a Mask-Predict model has no n-best list")
        sources = tok.encode_batch(texts, "source", max_len=self.max_positions)
        hyps = generate_nbest(model, sources, tok.pad_id, beam_size, nbest, max_length)
        return [[tok.decode(h.ids) for h in text_hyps] for text_hyps in hyps]

    def translate(self, texts: Sequence[str], beam_size: int, max_lengths: Sequence[int],
                  iterations: int = 10) -> list[str]:
        """Like `s2s.decoding.translate`, with one length limit per text (see `length_groups`); a Mask-Predict
        student decodes with `iterations` passes and `beam_size` length candidates."""
        model, tok = self.checkpoint.model, self.checkpoint.tokenizer
        if isinstance(model, CMLMModel):
            return translate_cmlm(model, tok, texts, iterations, max(beam_size, 1), max(max(max_lengths) - 1, 2))
        sources = tok.encode_batch(texts, "source", max_len=self.max_positions)
        out = [""] * len(texts)
        for limit, idx in length_groups(max_lengths, beam_size).items():
            hyps = generate_nbest(model, [sources[i] for i in idx], tok.pad_id, beam_size, 1, limit)
            for i, nbest in zip(idx, hyps, strict=True):
                out[i] = tok.decode(nbest[0].ids[: max_lengths[i] - 1])
        return out


@dataclass(frozen=True)
class LoadedModel:
    """One served model version: its id, backend and what `GET /v1/models` reports about it."""

    id: str
    folder: Path
    backend: Backend
    manifest: Manifest
    bleu: float | None
    size_bytes: int
    loaded_at: float

    def translate(self, texts: Sequence[str], beam_size: int, max_lengths: Sequence[int],
                  iterations: int = 10) -> list[str]:
        """Translate; each length limit is capped at the model's position limit (it cannot decode further)."""
        caps = [min(n, self.backend.max_positions) for n in max_lengths]
        return self.backend.translate(texts, beam_size, caps, iterations)

    def translate_nbest(self, texts: Sequence[str], beam_size: int, nbest: int,
                        max_lengths: Sequence[int]) -> list[list[str]]:
        """Each text's `nbest` best translations (best first); the batcher groups beam search by length
        limit, so all limits are equal here."""
        return self.backend.translate_nbest(texts, beam_size, nbest, min(max(max_lengths), self.backend.max_positions))


def is_model_folder(folder: Path) -> bool:
    """An export (CTranslate2) or a Hugging Face Marian checkpoint folder."""
    return is_export(folder) or (folder / "config.json").is_file()


def load_model(model_id: str, folder: Path, threads: int) -> LoadedModel:
    """Load `folder` with the backend its files call for; raises `KDError` subclasses when unusable."""
    backend: Ct2Backend | TorchBackend
    if is_export(folder):
        backend = Ct2Backend(folder, threads)
        bleu = backend.model.info.bleu
        size = backend.model.info.size_bytes
    else:
        backend = TorchBackend(folder, threads)
        bleu, size = None, sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    if bleu is None:
        bleu = manifest_bleu(backend.manifest)
    return LoadedModel(model_id, folder, backend, backend.manifest, bleu, size, time.time())


def manifest_bleu(manifest: Manifest) -> float | None:
    """The BLEU recorded in a manifest's metrics, under whichever common key the trainer used."""
    for key in BLEU_KEYS:
        value = manifest.metrics.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None
