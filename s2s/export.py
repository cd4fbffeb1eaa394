"""Exporting a checkpoint to CTranslate2 for serving, and translating with such an export.

An export folder holds the CTranslate2 files (`model.bin`, `config.json`, `shared_vocabulary.json`), the
tokenizer (so the folder is self-contained), the checkpoint's `manifest.json` (identity, vocabulary
fingerprint, lineage, metrics) and `export.json` (quantization, size, BLEU of the export itself).

CTranslate2's stock Marian converter drops the `<pad>` row and starts the decoder from a zero embedding.
That equals the PyTorch model only while the `<pad>` embedding is zero; with tied embeddings, training
moves that row through the output projection, so the decoder would start differently. This converter
keeps `<pad>` and starts from its real embedding, which makes a float32 export decode exactly like
`s2s.decoding.translate`. Writing is atomic, like `save_checkpoint`, so a gateway polling the folder
never sees half an export.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import ctranslate2
from ctranslate2.converters.converter import Converter
from ctranslate2.converters.transformers import BartLoader, MarianMTLoader
from transformers import MarianMTModel

from s2s import atomic
from s2s.checkpoint import MANIFEST, Manifest, load_checkpoint, read_manifest
from s2s.decoding import Hypothesis
from s2s.errors import CheckpointError, KDError
from s2s.tokenizer import Tokenizer

QUANTIZATIONS = ("int8", "int16", "float32")
EXPORT_INFO = "export.json"
CT2_FILES = ("model.bin", "config.json", "shared_vocabulary.json")


@dataclass(frozen=True)
class ExportInfo:
    """How a folder was exported: quantization, size on disk (every file but this one), the source length
    limit and, when measured at export time, the export's greedy BLEU."""

    quantization: str
    size_bytes: int
    max_source_positions: int
    source: str
    ctranslate2_version: str
    format: str = "ctranslate2"
    bleu: float | None = None
    bleu_set: str | None = None
    bleu_sentences: int | None = None
    exported_at: float = 0.0
    vmap: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


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
                      vmap: Path | None = None, languages: tuple[str, str] | None = None) -> ExportInfo:
    """Convert a checkpoint (or plain HF Marian folder) to CTranslate2 in `out_dir`, atomically.

    An existing export at `out_dir` is replaced (this is how a served model is updated); any other
    existing, non-empty folder is refused so that no unrelated files are deleted. With `vmap` (a
    vocabulary map, `s2s.shortlist`), translations restrict the output layer to the batch's shortlist.
    `languages` (source, target) is recorded in the export's manifest (`s2s.languages`).
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
        manifest = checkpoint.manifest if languages is None else replace(
            checkpoint.manifest, source_lang=languages[0], target_lang=languages[1])
        (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
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



def is_export(folder: Path) -> bool:
    """Whether `folder` looks like a CTranslate2 export made by `export_checkpoint`."""
    return all((Path(folder) / name).is_file() for name in (*CT2_FILES, EXPORT_INFO))


def read_export_info(folder: Path) -> ExportInfo:
    """The `export.json` of an export folder, with a clear error when it is missing or damaged."""
    path = Path(folder) / EXPORT_INFO
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ExportInfo(**data)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{folder} has no {EXPORT_INFO}; export it with `kd export`") from exc
    except (json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{path} is damaged ({exc}); export the model again") from exc


class Ct2Model:
    """A loaded export: CTranslate2 translator, tokenizer, manifest and export info."""

    def __init__(self, folder: Path, threads: int = 0, info: ExportInfo | None = None) -> None:
        self.folder = Path(folder)
        self.info = info or read_export_info(self.folder)
        self.tokenizer = Tokenizer(self.folder)
        self.manifest: Manifest = read_manifest(self.folder, self.tokenizer)
        if self.manifest.vocab_fingerprint != self.tokenizer.fingerprint:
            raise CheckpointError(f"{self.folder}: manifest and tokenizer disagree on the vocabulary")
        self._threads = threads
        self.translator = self.new_translator()

    def new_translator(self) -> ctranslate2.Translator:
        """A translator on this export (shortlisted exports need one per batch, see `_calls`)."""
        return ctranslate2.Translator(
            str(self.folder), device="cpu", compute_type="default", intra_threads=self._threads, inter_threads=1)

    def nbest(self, src_ids: Sequence[Sequence[int]], beam_size: int, nbest: int, max_len: int,
              max_batch_size: int = 64) -> list[list[Hypothesis]]:
        """Beam-search n-best lists from token ids, in the shape `s2s.decoding.generate_nbest` returns them.

        Like the PyTorch path (`max_new_tokens=max_len` with `</s>` forced at the cap), every hypothesis ends
        in `</s>` and has at most `max_len` ids; scores are length-normalised log-probabilities."""
        tok = self.tokenizer
        sources = [[tok.id_to_piece[int(i)] for i in ids] for ids in src_ids]
        results = self.translator.translate_batch(
            sources, beam_size=beam_size, num_hypotheses=nbest, max_decoding_length=max(max_len - 1, 1),
            max_batch_size=max_batch_size, length_penalty=1.0, return_scores=True)
        return [[Hypothesis([tok.vocab.get(p, tok.unk_id) for p in hyp] + [tok.eos_id], float(score))
                 for hyp, score in zip(r.hypotheses, r.scores, strict=True)] for r in results]

    def translate(self, texts: Sequence[str], beam_size: int = 1, max_len: int | Sequence[int] = 128,
                  max_batch_size: int = 64) -> list[str]:
        """Translate like `s2s.decoding.translate`: `max_len` (one for all, or one per text) counts the
        final `</s>`, so at most `max_len - 1` tokens are kept; it is capped at the position limit."""
        tok, positions = self.tokenizer, self.info.max_source_positions
        caps = [max_len] * len(texts) if isinstance(max_len, int) else list(max_len)
        caps = [min(cap, positions) for cap in caps]  # the decoder has no positions beyond
        sources = [[tok.id_to_piece[i] for i in tok.encode_source(t, positions)] for t in texts]
        out = [""] * len(texts)
        for limit, idx in self._calls(sources, caps, beam_size, max_batch_size):
            translator = self.new_translator() if self.info.vmap else self.translator
            results = translator.translate_batch(
                [sources[i] for i in idx], beam_size=beam_size, max_decoding_length=max(limit - 1, 1),
                max_batch_size=max_batch_size, length_penalty=1.0, use_vmap=self.info.vmap)
            for i, result in zip(idx, results, strict=True):
                ids = [tok.vocab.get(p, tok.unk_id) for p in result.hypotheses[0]]
                out[i] = tok.decode(ids[: caps[i] - 1])
        return out

    def _calls(self, sources: Sequence[Sequence[str]], caps: Sequence[int], beam_size: int,
               max_batch_size: int) -> list[tuple[int, list[int]]]:
        """The `translate_batch` calls to make: one per length group, or, for an export with a shortlist, one
        per batch of at most `max_batch_size` sources of similar length, each on a fresh translator.

        CTranslate2 4.8.5 restricts a translator's output layer on its first vocabulary-map batch only:
        later batches (its own sub-batches included) decode with the first batch's rows under their own id
        map, which gives wrong words or an IndexError (`tests/s2s/test_shortlist.py` checks that this
        path avoids it). A fresh translator costs one model load (tens of ms) per batch: the price is part
        of what `bench/compression.py` measures for shortlisted exports.
        """
        calls = list(length_groups(caps, beam_size).items())
        if not self.info.vmap:
            return calls
        chunked = []
        for limit, idx in calls:
            ordered = sorted(idx, key=lambda i: len(sources[i]))
            chunked += [(limit, ordered[k:k + max_batch_size]) for k in range(0, len(ordered), max_batch_size)]
        return chunked


def length_groups(max_lens: Sequence[int], beam_size: int) -> dict[int, list[int]]:
    """Indices of texts to decode together, keyed by the length limit to decode them with.

    A sentence's greedy output does not depend on the rest of its batch, and its first n tokens do not
    depend on the limit, so greedy texts with different limits share one call at the largest limit and are
    cut to their own afterwards. Beam search does depend on the limit: one call per distinct limit.
    """
    if not max_lens:
        return {}
    if beam_size == 1:
        return {max(max_lens): list(range(len(max_lens)))}
    groups: dict[int, list[int]] = {}
    for i, limit in enumerate(max_lens):
        groups.setdefault(limit, []).append(i)
    return groups
