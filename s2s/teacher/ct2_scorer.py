"""Teacher forcing on a CTranslate2 export: the full next-token distribution at every target position.

CTranslate2 has no teacher-forced forward pass that returns distributions: `Translator.score_batch` gives
log q of the given tokens only (not of other candidates, nor the top k). What does give them is
`translate_batch` with the target as a forced prefix and `return_logits_vocab=True`: the decoder walks the
prefix `y[:-1]` one token at a time on its cache and returns the logits of every step, and one free step
after the prefix gives the distribution at the last position (where `</s>` is expected). Two settings make
those rows equal to PyTorch's teacher forcing: `min_decoding_length=0` (by default the first step masks
`</s>` to -3.4e38) and no input truncation (`max_input_length=0`; the teacher's limits apply). Measured on
the reference teacher (`bench/teacher_engines.py`): float32 rows match PyTorch within 2e-5 in log q.

`Ct2Scorer` is a `compute.ForcedScorer`: `compute.topk` and `compute.score` use it like a PyTorch model,
and an `Ensemble` can hold several.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2s.checkpoint import read_manifest
from s2s.families.registry import get_family


class Ct2Scorer:
    """A CTranslate2 export answering teacher-forced distributions; `config` is the source model's (limits)."""

    def __init__(self, folder: Path, config: Any, device: str = "cpu", threads: int = 0) -> None:
        import ctranslate2

        manifest = read_manifest(folder)
        self.tokenizer = get_family(manifest.family).load_tokenizer(Path(folder), manifest.languages)
        self.config = config
        kind = torch.device(device).type
        self._device = torch.device(device)
        self.translator = ctranslate2.Translator(
            str(folder), device=kind, device_index=self._device.index or 0, compute_type="default",
            intra_threads=threads, inter_threads=1)

    @property
    def device(self) -> torch.device:
        return self._device

    def forced_logits(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad_id: int) -> torch.Tensor:
        """Logits [B, T_max, V] (float32) of every target position; rows beyond a target are zero."""
        tok = self.tokenizer
        results = self.translator.translate_batch(
            [tok.source_pieces([int(x) for x in s]) for s in src],
            target_prefix=[tok.target_pieces([int(x) for x in t[:-1]]) for t in tgt],
            beam_size=1, max_decoding_length=max(len(t) for t in tgt), min_decoding_length=0,
            max_input_length=0, max_batch_size=len(src), return_logits_vocab=True)
        rows = [self._rows(result.logits[0][: len(t)]) for result, t in zip(results, tgt, strict=True)]
        out = torch.zeros((len(rows), max(len(t) for t in tgt), rows[0].shape[-1]), dtype=torch.float32,
                          device=self._device)
        for i, block in enumerate(rows):
            out[i, : block.shape[0]] = block
        return out

    def _rows(self, steps: Sequence[Any]) -> torch.Tensor:
        """One sentence's per-step logits (CTranslate2 storage views, on the CPU or the GPU) as [T, V]."""
        if self._device.type == "cpu":
            return torch.from_numpy(np.stack([np.asarray(step) for step in steps])).float()
        return torch.stack([torch.as_tensor(step, device=self._device) for step in steps]).float()
