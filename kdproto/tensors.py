"""Packing numpy arrays into the proto `Tensor` message (dtype + shape + little-endian bytes) and back.

Both sides of the wire use this one codec. Unpacking checks everything a peer could get wrong (unknown
dtype, negative dims, byte count not matching the shape, wrong rank) and raises `TensorError` with a
message that says which tensor was wrong and how, so the server can answer INVALID_ARGUMENT.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kdproto import teacher_pb2 as pb

_TO_NUMPY: dict[Any, np.dtype] = {
    pb.DTYPE_UINT16: np.dtype("<u2"),
    pb.DTYPE_INT32: np.dtype("<i4"),
    pb.DTYPE_INT64: np.dtype("<i8"),
    pb.DTYPE_FLOAT16: np.dtype("<f2"),
    pb.DTYPE_FLOAT32: np.dtype("<f4"),
    pb.DTYPE_UINT8: np.dtype("u1"),
}
_FROM_NUMPY: dict[str, Any] = {dt.str: code for code, dt in _TO_NUMPY.items()}
ID_DTYPES = frozenset({pb.DTYPE_UINT16, pb.DTYPE_INT32, pb.DTYPE_INT64})
FLOAT_DTYPES = frozenset({pb.DTYPE_FLOAT16, pb.DTYPE_FLOAT32})
_UINT16_MAX = np.iinfo(np.uint16).max
_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


class TensorError(ValueError):
    """A `Tensor` message is malformed or not of the expected kind."""


def pack(array: np.ndarray, dtype: np.dtype | str | None = None) -> pb.Tensor:
    """A `Tensor` holding `array` (cast to `dtype` first when given) as little-endian bytes."""
    arr = np.asarray(array)
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype).newbyteorder("<"), copy=False)
    arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
    code = _FROM_NUMPY.get(arr.dtype.str)
    if code is None:
        raise TensorError(f"dtype {arr.dtype} cannot travel on the wire; use one of "
                          f"{', '.join(str(d) for d in _TO_NUMPY.values())}")
    return pb.Tensor(dtype=code, shape=list(arr.shape), data=arr.tobytes())


def pack_ids(ids: np.ndarray) -> pb.Tensor:
    """Token ids in the smallest integer type that holds them: uint16 for any vocabulary up to 65536
    entries, else int32 (int64 only for values no int32 holds). The receiver checks the id range."""
    arr = np.asarray(ids)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TensorError(f"token ids must be integers, got dtype {arr.dtype}")
    lo = int(arr.min()) if arr.size else 0
    hi = int(arr.max()) if arr.size else 0
    if lo >= 0 and hi <= _UINT16_MAX:
        return pack(arr, "<u2")
    if lo >= _INT32_MIN and hi <= _INT32_MAX:
        return pack(arr, "<i4")
    return pack(arr, "<i8")


def pack_logprobs(values: np.ndarray) -> pb.Tensor:
    """Log-probabilities as float16 (about 3 significant digits, plenty for distillation targets)."""
    return pack(np.asarray(values, dtype=np.float32), "<f2")


def pack_counts(counts: np.ndarray) -> pb.Tensor:
    """Draw counts (1..255) as uint8; larger values cannot travel."""
    arr = np.asarray(counts)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
        raise TensorError("counts must lie in 0..255 to travel as uint8")
    return pack(arr, "u1")


def unpack_counts(tensor: pb.Tensor, name: str) -> np.ndarray:
    """uint8 counts as a 1-D int64 array."""
    return unpack(tensor, name, frozenset({pb.DTYPE_UINT8}), 1).astype(np.int64)


def unpack(tensor: pb.Tensor, name: str, kinds: frozenset[int] | None = None, ndim: int | None = None) -> np.ndarray:
    """The array in `tensor` (read-only view of its bytes), checked against the allowed dtypes and rank."""
    dtype = _TO_NUMPY.get(tensor.dtype)
    if dtype is None or (kinds is not None and tensor.dtype not in kinds):
        allowed = sorted(pb.DType.Name(k) for k in (kinds or _TO_NUMPY))
        raise TensorError(f"{name}: dtype {_dtype_name(tensor.dtype)} is not allowed here; use {', '.join(allowed)}")
    shape = tuple(int(d) for d in tensor.shape)
    if ndim is not None and len(shape) != ndim:
        raise TensorError(f"{name}: expected a {ndim}-D tensor, got shape {list(shape)}")
    if any(d < 0 for d in shape):
        raise TensorError(f"{name}: negative dimension in shape {list(shape)}")
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a crafted shape cannot overflow
    if len(tensor.data) != expected:
        raise TensorError(f"{name}: shape {list(shape)} of {dtype} needs {expected} bytes, got {len(tensor.data)}")
    return np.frombuffer(tensor.data, dtype=dtype).reshape(shape)


def unpack_ids(tensor: pb.Tensor, name: str, ndim: int) -> np.ndarray:
    """Integer ids as an int64 array of rank `ndim`."""
    return unpack(tensor, name, ID_DTYPES, ndim).astype(np.int64)


def unpack_floats(tensor: pb.Tensor, name: str, ndim: int | None = None) -> np.ndarray:
    """Float16/32 values as a float32 array."""
    return unpack(tensor, name, FLOAT_DTYPES, ndim).astype(np.float32)


def _dtype_name(code: int) -> str:
    try:
        return pb.DType.Name(code)
    except ValueError:
        return f"#{code} (unknown)"
