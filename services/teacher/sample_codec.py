"""Cache parameters and compact cache values of the sampled signal (`Sample`), beside `cache_codec`'s TopK.

Key params: `m{m}s{seed}`, so answers with other draws never mix. Value: `S1` + (id dtype, T, m, N) + N ids
(uint16 when the vocabulary fits) + N uint8 counts: 3 bytes per distinct drawn id, the wire's precision.
A decoded value is checked like every answer read back (`s2s.teacher.answers.sampled_problem`).
"""

from __future__ import annotations

import struct

import numpy as np

from s2s.teacher.answers import sampled_problem
from s2s.teacher.contract import SampledResult
from services.teacher.cache_codec import CacheValueError

_TAG = b"S1"
_HEADER = struct.Struct("<BHBI")  # id dtype code, T, m, N
_ID_DTYPES: dict[int, np.dtype] = {0: np.dtype("<u2"), 1: np.dtype("<i4")}


def sample_params(m: int, seed: int) -> str:
    return f"m{m}s{seed}"


def encode_sampled(result: SampledResult, vocab_size: int) -> bytes:
    code = 0 if vocab_size <= 65536 else 1
    header = _HEADER.pack(code, result.length, result.m, len(result.ids))
    return b"".join((_TAG, header, result.ids.astype(_ID_DTYPES[code]).tobytes(), result.counts.astype("u1").tobytes()))


def decode_sampled(value: bytes) -> SampledResult:
    """The `SampledResult` in a value written by `encode_sampled`."""
    if value[:2] != _TAG or len(value) < 2 + _HEADER.size:
        raise CacheValueError("not a sampled value")
    code, _length, m, n = _HEADER.unpack_from(value, 2)
    id_dtype = _ID_DTYPES.get(code)
    offset = 2 + _HEADER.size
    if id_dtype is None or len(value) != offset + n * (id_dtype.itemsize + 1):
        raise CacheValueError("sampled value has the wrong size")
    ids = np.frombuffer(value, id_dtype, n, offset).astype(np.int64)
    counts = np.frombuffer(value, "u1", n, offset + n * id_dtype.itemsize).astype(np.int64)
    return SampledResult(ids, counts, m)


def sampled_fits(result: SampledResult, target_len: int, m: int, vocab_size: int) -> bool:
    """Whether a decoded value answers this request: m draws at each of the target's positions, ids in range."""
    return sampled_problem(result, target_len, m, vocab_size) is None
