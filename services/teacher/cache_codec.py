"""Cache keys and compact cache values for per-sentence teacher results.

Key: `kd:v1:{teacher_id}:{vocab_fp[:16]}:{op}:{params}:{sha256(source ids, target ids)}`. The teacher id
includes a digest of the weights (of every member and the mixture weights for an ensemble), so two
different teachers never share entries; `params` holds everything else the answer depends on (k; beam,
n-best, max length; the engine where it is not PyTorch). Values are the wire precision of the answer
(ids uint16 when the vocabulary fits, log-probs float16) behind a 2-byte format tag, so a cached answer is
bit-identical to a computed one after wire encoding.
"""

from __future__ import annotations

import struct

import numpy as np

from s2s.decoding import Hypothesis
from s2s.teacher.answers import topk_problem
from s2s.teacher.contract import TopKResult
from s2s.teacher.identity import ensemble_id, sentence_digest, teacher_id

# Defined in s2s.teacher.identity, shared with the store.
__all__ = ["ensemble_id", "sentence_digest", "teacher_id"]

KEY_PREFIX = "kd:v1"
_TOPK_TAG, _NBEST_TAG = b"T1", b"G1"
_ID_DTYPES: dict[int, np.dtype] = {0: np.dtype("<u2"), 1: np.dtype("<i4")}


class CacheValueError(ValueError):
    """A cached value is not in the expected format (written by another version, or damaged)."""


def cache_key(teacher_id: str, vocab_fp: str, op: str, params: str, src: np.ndarray,
              tgt: np.ndarray | None = None) -> str:
    """The versioned key of one sentence's answer."""
    return f"{KEY_PREFIX}:{teacher_id}:{vocab_fp[:16]}:{op}:{params}:{sentence_digest(src, tgt)}"


def topk_params(k: int) -> str:
    return f"k{k}"


def generate_params(beam_size: int, nbest: int, max_len: int) -> str:
    return f"b{beam_size}n{nbest}l{max_len}"


def _id_code(vocab_size: int) -> int:
    return 0 if vocab_size <= 65536 else 1


def encode_topk(result: TopKResult, vocab_size: int) -> bytes:
    """`T1` + (id dtype, T, k) + ids + float16 logq + float16 rest: 34 bytes per position at k = 8."""
    code = _id_code(vocab_size)
    t, k = result.ids.shape
    return b"".join((_TOPK_TAG, struct.pack("<BHH", code, t, k), result.ids.astype(_ID_DTYPES[code]).tobytes(),
                     result.logq.astype("<f2").tobytes(), result.rest_logmass.astype("<f2").tobytes()))


def decode_topk(value: bytes) -> TopKResult:
    """The `TopKResult` in a value written by `encode_topk` (log-probs at float16 precision)."""
    if value[:2] != _TOPK_TAG or len(value) < 7:
        raise CacheValueError("not a top-k value")
    code, t, k = struct.unpack_from("<BHH", value, 2)
    id_dtype = _ID_DTYPES.get(code)
    if id_dtype is None or len(value) != 7 + t * k * id_dtype.itemsize + 2 * t * k + 2 * t:
        raise CacheValueError("top-k value has the wrong size")
    ids = np.frombuffer(value, id_dtype, t * k, 7)
    logq = np.frombuffer(value, "<f2", t * k, 7 + ids.nbytes)
    rest = np.frombuffer(value, "<f2", t, 7 + ids.nbytes + logq.nbytes)
    return TopKResult(ids.reshape(t, k).astype(np.int64), logq.reshape(t, k).astype(np.float32),
                      rest.astype(np.float32))


def encode_nbest(hyps: list[Hypothesis], vocab_size: int) -> bytes:
    """`G1` + (id dtype, n) + per hypothesis (length, float32 score, ids)."""
    code = _id_code(vocab_size)
    parts = [_NBEST_TAG, struct.pack("<BH", code, len(hyps))]
    for hyp in hyps:
        parts.append(struct.pack("<Hf", len(hyp.ids), hyp.score))
        parts.append(np.asarray(hyp.ids, dtype=_ID_DTYPES[code]).tobytes())
    return b"".join(parts)


def decode_nbest(value: bytes) -> list[Hypothesis]:
    """The n-best list in a value written by `encode_nbest`."""
    if value[:2] != _NBEST_TAG or len(value) < 5:
        raise CacheValueError("not an n-best value")
    code, n = struct.unpack_from("<BH", value, 2)
    id_dtype = _ID_DTYPES.get(code)
    if id_dtype is None:
        raise CacheValueError("n-best value has an unknown id type")
    offset, hyps = 5, []
    try:
        for _ in range(n):
            length, score = struct.unpack_from("<Hf", value, offset)
            ids = np.frombuffer(value, id_dtype, length, offset + 6)
            hyps.append(Hypothesis([int(i) for i in ids], float(score)))
            offset += 6 + ids.nbytes
    except (struct.error, ValueError) as exc:
        raise CacheValueError(f"n-best value is truncated ({exc})") from exc
    if offset != len(value):
        raise CacheValueError("n-best value has trailing bytes")
    return hyps


def topk_fits(result: TopKResult, target_len: int, k: int, vocab_size: int) -> bool:
    """Whether a decoded top-k value answers this request, by shape and by value: [target_len, k] distinct
    ids within the vocabulary, finite log q <= 0, no NaN (see `s2s.teacher.answers`). Anyone who can write
    to the cache can write a value that decodes; only a value that passes is trained on."""
    return topk_problem(result, target_len, k, vocab_size) is None


def nbest_fits(hyps: list[Hypothesis], nbest: int, max_len: int, vocab_size: int) -> bool:
    """Whether a decoded n-best list answers this request: n hypotheses of 1..max_len ids in the vocabulary."""
    return len(hyps) == nbest and all(1 <= len(h.ids) <= max_len and all(0 <= i < vocab_size for i in h.ids)
                                      for h in hyps)
