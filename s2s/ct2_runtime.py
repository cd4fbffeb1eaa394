"""Translating with a CTranslate2 export: the export's identity (`ExportInfo`) and the loaded model (`Ct2Model`).

An export folder (made by `s2s.export.export_checkpoint`) holds the CTranslate2 files (`model.bin`,
`config.json`, `shared_vocabulary.json`), the tokenizer, the checkpoint's `manifest.json` and `export.json`
(`ExportInfo`: quantization, size, BLEU of the export itself). This module reads such folders and decodes
with them; it needs no converter, so the gateway, the teacher's CTranslate2 engine and evaluation import it
without the export machinery. Exports of every teacher family decode the same way: the manifest names the
family and direction, the family's tokenizer turns text into the pieces CTranslate2 reads, and families that
force the target language's code get it as the target prefix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import ctranslate2

from s2s.checkpoint import Manifest, read_manifest
from s2s.decoding import Hypothesis
from s2s.errors import CheckpointError
from s2s.families.base import SeqTokenizer
from s2s.families.registry import get_family

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
        self.manifest: Manifest = read_manifest(self.folder)
        self.tokenizer: SeqTokenizer = get_family(self.manifest.family).load_tokenizer(
            self.folder, self.manifest.languages)
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
        sources = [tok.source_pieces(ids) for ids in src_ids]
        results = self.translator.translate_batch(
            sources, beam_size=beam_size, num_hypotheses=nbest, max_decoding_length=max(max_len - 1, 1),
            max_batch_size=max_batch_size, length_penalty=1.0, return_scores=True,
            target_prefix=self._prefix(len(sources)))
        return [[Hypothesis([*tok.target_ids(hyp), tok.eos_id], float(score))
                 for hyp, score in zip(r.hypotheses, r.scores, strict=True)] for r in results]

    def _prefix(self, n: int) -> list[list[str]] | None:
        """The forced first target token (a language code) for each of `n` sources, or None."""
        bos = self.tokenizer.forced_bos_id
        return None if bos is None else [self.tokenizer.target_pieces([bos])] * n

    def translate(self, texts: Sequence[str], beam_size: int = 1, max_len: int | Sequence[int] = 128,
                  max_batch_size: int = 64) -> list[str]:
        """Translate like `s2s.decoding.translate`: `max_len` (one for all, or one per text) counts the
        final `</s>`, so at most `max_len - 1` tokens are kept; it is capped at the position limit."""
        tok, positions = self.tokenizer, self.info.max_source_positions
        caps = [max_len] * len(texts) if isinstance(max_len, int) else list(max_len)
        caps = [min(cap, positions) for cap in caps]  # the decoder has no positions beyond
        sources = [tok.source_pieces(ids) for ids in tok.encode_batch(texts, "source", positions)]
        out = [""] * len(texts)
        for limit, idx in self._calls(sources, caps, beam_size, max_batch_size):
            translator = self.new_translator() if self.info.vmap else self.translator
            results = translator.translate_batch(
                [sources[i] for i in idx], beam_size=beam_size, max_decoding_length=max(limit - 1, 1),
                max_batch_size=max_batch_size, length_penalty=1.0, use_vmap=self.info.vmap,
                target_prefix=self._prefix(len(idx)))
            for i, result in zip(idx, results, strict=True):
                ids = tok.target_ids(result.hypotheses[0])
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
