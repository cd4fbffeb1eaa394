"""Exporting a checkpoint to CTranslate2 for serving (the folder `s2s.ct2_runtime` translates with).

An export folder holds the CTranslate2 files (`model.bin`, `config.json`, `shared_vocabulary.json`), the
tokenizer (so the folder is self-contained), the checkpoint's `manifest.json` (identity, vocabulary
fingerprint, lineage, metrics) and `export.json` (quantization, size, BLEU of the export itself).

The specs come from `s2s.ct2_loaders` (every teacher family; the Marian one keeps the real decoder start).
Writing is atomic, like `save_checkpoint`, so a gateway polling the folder
never sees half an export.

Only callers that export import this module; translating with an export needs `s2s.ct2_runtime` alone.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import ctranslate2

from s2s import atomic
from s2s.checkpoint import MANIFEST, load_checkpoint, read_manifest
from s2s.ct2_loaders import CheckpointConverter
from s2s.ct2_runtime import EXPORT_INFO, Ct2Model, ExportInfo
from s2s.errors import KDError
from s2s.families.base import max_positions
from s2s.languages import Languages, iso_of

QUANTIZATIONS = ("int8", "int16", "float32")


def export_checkpoint(model_dir: Path, out_dir: Path, quantization: str = "int8",
                      eval_tsv: Path | None = None, eval_limit: int | None = None,
                      vmap: Path | None = None, languages: Languages | None = None) -> ExportInfo:
    """Convert a checkpoint (or a Hugging Face folder of any supported family) to CTranslate2 in `out_dir`,
    atomically; `languages` sets a multilingual teacher's direction, recorded in the export's manifest.

    An existing export at `out_dir` is replaced (this is how a served model is updated); any other
    existing, non-empty folder is refused so that no unrelated files are deleted. With `vmap` (a
    vocabulary map, `s2s.shortlist`), translations restrict the output layer to the batch's shortlist.
    `languages` (source, target) is recorded in the export's manifest (`s2s.languages`).
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    _check_target(model_dir, out_dir, quantization)
    if vmap is not None and not Path(vmap).is_file():
        raise KDError(f"--vmap {vmap} is not a file; build one with `kd shortlist`")
    checkpoint = load_checkpoint(model_dir, languages=languages)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        CheckpointConverter(checkpoint).convert(
            str(tmp), quantization=quantization, force=True, vmap=str(vmap) if vmap is not None else None)
        checkpoint.tokenizer.save(tmp)
        (tmp / MANIFEST).write_text(checkpoint.manifest.to_json(), encoding="utf-8")
        info = ExportInfo(
            quantization=quantization, size_bytes=_folder_bytes(tmp), source=str(model_dir.resolve()),
            max_source_positions=max_positions(checkpoint.model.config),
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

    languages = read_manifest(folder).languages  # the corpus's columns are ISO codes (es, en) by default
    src, tgt = (iso_of(languages.src), iso_of(languages.tgt)) if languages.src and languages.tgt else ("es", "en")
    pairs = read_corpus(tsv, src_col=src, tgt_col=tgt).pairs[:limit]
    if not pairs:
        raise KDError(f"{tsv} has no sentence pairs to measure BLEU on")
    model = Ct2Model(folder, info=info)
    bleu = score_corpus(model.translate([p.src for p in pairs]), [p.tgt for p in pairs]).bleu
    return ExportInfo(**{**asdict(info), "bleu": round(bleu, 2), "bleu_set": str(tsv),
                         "bleu_sentences": len(pairs)})


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
