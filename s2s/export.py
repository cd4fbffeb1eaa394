"""Exporting a checkpoint to CTranslate2 for serving (the folder `s2s.ct2_runtime` translates with).

An export folder holds the CTranslate2 files (`model.bin`, `config.json`, `shared_vocabulary.json`), the
tokenizer (so the folder is self-contained), the checkpoint's `manifest.json` (identity, vocabulary
fingerprint, lineage, metrics) and `export.json` (quantization, size, BLEU of the export itself).

CTranslate2's stock Marian converter drops the `<pad>` row and starts the decoder from a zero embedding.
That equals the PyTorch model only while the `<pad>` embedding is zero; with tied embeddings, training
moves that row through the output projection, so the decoder would start differently. This converter
keeps `<pad>` and starts from its real embedding, which makes a float32 export decode exactly like
`s2s.decoding.translate`. Writing is atomic, like `save_checkpoint`, so a gateway polling the folder
never sees half an export.

Only callers that export import this module; translating with an export needs `s2s.ct2_runtime` alone.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ctranslate2
from ctranslate2.converters.converter import Converter
from ctranslate2.converters.transformers import BartLoader, MarianMTLoader
from transformers import MarianMTModel

from s2s import atomic
from s2s.checkpoint import MANIFEST, load_checkpoint
from s2s.ct2_runtime import EXPORT_INFO, Ct2Model, ExportInfo
from s2s.errors import KDError
from s2s.tokenizer import Tokenizer

QUANTIZATIONS = ("int8", "int16", "float32")


class _PadStartMarianLoader(MarianMTLoader):
    """Marian loader that keeps `<pad>` (HF's decoder start) and its embedding instead of a zero vector."""

    def get_model_spec(self, model: MarianMTModel) -> Any:
        model.config.normalize_before = False
        model.config.normalize_embedding = False
        return BartLoader.get_model_spec(self, model)

    def set_config(self, config: Any, model: MarianMTModel, tokenizer: Tokenizer) -> None:
        config.bos_token = "<s>"
        config.eos_token = tokenizer.id_to_piece[tokenizer.eos_id]
        config.unk_token = tokenizer.id_to_piece[tokenizer.unk_id]
        config.decoder_start_token = tokenizer.id_to_piece[model.config.decoder_start_token_id]

    def set_decoder(self, spec: Any, decoder: Any) -> None:
        BartLoader.set_decoder(self, spec, decoder)

    def get_vocabulary(self, model: MarianMTModel, tokenizer: Tokenizer) -> list[str]:
        return [tokenizer.id_to_piece[i] for i in range(tokenizer.vocab_size)]


class _CheckpointConverter(Converter):  # type: ignore[misc]
    """Builds the CTranslate2 spec from an already loaded checkpoint (no AutoTokenizer, no network)."""

    def __init__(self, model: MarianMTModel, tokenizer: Tokenizer) -> None:
        self._model = model
        self._tokenizer = tokenizer

    def _load(self) -> Any:
        return _PadStartMarianLoader()(self._model, self._tokenizer)


def export_checkpoint(model_dir: Path, out_dir: Path, quantization: str = "int8",
                      eval_tsv: Path | None = None, eval_limit: int | None = None,
                      vmap: Path | None = None) -> ExportInfo:
    """Convert a checkpoint (or plain HF Marian folder) to CTranslate2 in `out_dir`, atomically.

    An existing export at `out_dir` is replaced (this is how a served model is updated); any other
    existing, non-empty folder is refused so that no unrelated files are deleted. With `vmap` (a
    vocabulary map, `s2s.shortlist`), translations restrict the output layer to the batch's shortlist.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    _check_target(model_dir, out_dir, quantization)
    if vmap is not None and not Path(vmap).is_file():
        raise KDError(f"--vmap {vmap} is not a file; build one with `kd shortlist`")
    checkpoint = load_checkpoint(model_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _CheckpointConverter(checkpoint.model, checkpoint.tokenizer).convert(
            str(tmp), quantization=quantization, force=True, vmap=str(vmap) if vmap is not None else None)
        checkpoint.tokenizer.save(tmp)
        (tmp / MANIFEST).write_text(checkpoint.manifest.to_json(), encoding="utf-8")
        info = ExportInfo(
            quantization=quantization, size_bytes=_folder_bytes(tmp), source=str(model_dir.resolve()),
            max_source_positions=int(checkpoint.model.config.max_position_embeddings),
            ctranslate2_version=ctranslate2.__version__, exported_at=time.time(), vmap=vmap is not None)
        if eval_tsv is not None:
            info = _with_bleu(info, tmp, Path(eval_tsv), eval_limit)
        (tmp / EXPORT_INFO).write_text(info.to_json(), encoding="utf-8")
        atomic.swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _check_target(model_dir: Path, out_dir: Path, quantization: str) -> None:
    if quantization not in QUANTIZATIONS:
        raise KDError(f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if out_dir.resolve() == model_dir.resolve():
        raise KDError(f"--out {out_dir} is the model folder itself; export to a different folder")
    if out_dir.exists() and not (out_dir / EXPORT_INFO).is_file() and any(out_dir.iterdir()):
        raise KDError(f"{out_dir} exists and is not an export folder; choose an empty or new folder")


def _with_bleu(info: ExportInfo, folder: Path, tsv: Path, limit: int | None) -> ExportInfo:
    """`info` with the export's greedy BLEU on the first `limit` pairs of `tsv`."""
    # Imported here, not at the top: sacrebleu takes about 0.4 s to import, and the teacher service
    # exports (`services.teacher.generate_engine`) without ever measuring BLEU.
    from s2s.corpus import read_corpus
    from s2s.evaluation import score_corpus

    pairs = read_corpus(tsv).pairs[:limit]
    if not pairs:
        raise KDError(f"{tsv} has no sentence pairs to measure BLEU on")
    model = Ct2Model(folder, info=info)
    bleu = score_corpus(model.translate([p.src for p in pairs]), [p.tgt for p in pairs]).bleu
    return ExportInfo(**{**asdict(info), "bleu": round(bleu, 2), "bleu_set": str(tsv),
                         "bleu_sentences": len(pairs)})


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
