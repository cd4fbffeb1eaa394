"""The sampled signal: m tokens drawn from the teacher's q at every target position, kept as counts.

Sparse logit sampling (Anshumann et al., ACL 2025): the empirical distribution `counts / m` of m draws from
q is an unbiased estimate of q, so the cross-entropy against it has the full forward-KL gradient in
expectation (`s2s.losses.sampled_kd_loss`), with about a dozen draws instead of the whole vocabulary and
without top-k's bias. A position takes 3 bytes per distinct drawn id (uint16 id, uint8 count).

The draws are a function of (seed, source ids, target ids): each sentence's generator is seeded from the
seed and the sentence's hash, so replicas, retries, the cache and the store give the same samples whatever
batch a sentence was computed in, up to float rounding: logits differ in the last bits between batch
compositions (4e-6 with the reference teacher), which moves a CDF boundary past a uniform draw about once
in 4,000 draws (measured: a sentence alone against a batch of 40). Either way each draw is a draw from q.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import torch
from transformers import MarianMTModel

from s2s.teacher.compute import _chunks, teacher_forced_logits
from s2s.teacher.contract import MAX_SAMPLES, SampledResult, TeacherInputError
from s2s.teacher.identity import sentence_hash
from s2s.teacher.limits import DEFAULT_BATCH_TOKENS

"""The largest m: one id may be drawn every time, and counts travel and are stored in 8 bits."""


def check_samples(m: int) -> None:
    """m draws per position, 1 <= m <= MAX_SAMPLES, else a `TeacherInputError`."""
    if not 1 <= m <= MAX_SAMPLES:
        raise TeacherInputError(f"m = {m} samples per position is out of range; a teacher draws 1 <= m <= "
                                f"{MAX_SAMPLES} (counts travel in 8 bits)")


def sentence_rng(seed: int, src: np.ndarray, tgt: np.ndarray) -> np.random.Generator:
    """The generator of one sentence's draws: seeded by `seed` and the sentence's hash."""
    words = struct.unpack("<4I", sentence_hash(src, tgt)[:16])
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, *words])


def draw(logq: torch.Tensor, m: int, rng: np.random.Generator) -> SampledResult:
    """m draws from each row of `logq` ([T, V] log-probabilities of one sentence) by inverse CDF, in float64
    so that the cumulative sum does not drift over a large vocabulary; counted per position."""
    t, vocab = logq.shape
    cdf = logq.double().exp().cumsum(-1)
    uniforms = torch.from_numpy(rng.random((t, m))).to(cdf.device) * cdf[:, -1:]
    drawn = torch.searchsorted(cdf, uniforms, right=True).clamp_(max=vocab - 1).cpu().numpy()
    return counted(drawn, m)


def counted(drawn: np.ndarray, m: int) -> SampledResult:
    """[T, m] drawn ids as distinct ids (ascending per position) with their counts."""
    ordered = np.sort(drawn, axis=1)
    first = np.ones(ordered.shape, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts = np.flatnonzero(first.ravel())
    counts = np.diff(np.append(starts, ordered.size))
    return SampledResult(ordered.ravel()[starts].astype(np.int64), counts.astype(np.int64), m)


def positions(counts: np.ndarray, m: int) -> np.ndarray:
    """The target position of every entry of a `SampledResult` (its counts sum to m at each position)."""
    return (np.cumsum(counts) - counts) // m


@torch.inference_mode()
def sample(model: MarianMTModel, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], m: int, seed: int,
           pad_id: int, max_tokens: int = DEFAULT_BATCH_TOKENS) -> list[SampledResult]:
    """m draws from q at every target position of every sentence (teacher forcing, as `compute.topk`)."""
    results: list[SampledResult | None] = [None] * len(src)
    for batch in _chunks(src, tgt, max_tokens):
        logits = teacher_forced_logits(model, [src[i] for i in batch], [tgt[i] for i in batch], pad_id)
        logq = torch.log_softmax(logits, dim=-1)
        for row, i in enumerate(batch):
            results[i] = draw(logq[row, : len(tgt[i])], m, sentence_rng(seed, src[i], tgt[i]))
    return [r for r in results if r is not None]
