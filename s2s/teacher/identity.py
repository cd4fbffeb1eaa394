"""Who a teacher is and which sentence an answer belongs to: the teacher id and the sentence key.

Both are shared by every place that keeps teacher answers beyond one call: the teacher service's Redis cache
(`services.teacher.cache_codec` builds its keys from them) and the teacher-output store (`s2s.teacher.store`),
so that an answer can only ever be read back for the same model, weights and sentence.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def teacher_id(model_id: str, folder: Path) -> str:
    """`{model_id}-{digest}`: the identity of a model, from its config and weight files, so that a retrained
    model under the same name never reads its predecessor's cached or stored answers."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.name == "config.json" or path.suffix in (".safetensors", ".bin"):
            h.update(path.name.encode())
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', model_id)}-{h.hexdigest()[:12]}"


def ensemble_id(model_id: str, member_ids: Sequence[str], weights: Sequence[float]) -> str:
    """`{model_id}-{digest}` of an ensemble: the digest covers every member's own id (model id and weights
    digest) and the mixture weights, so an ensemble never shares cached or stored answers with one of its
    members or with the same members weighted otherwise."""
    h = hashlib.sha256(b"ensemble")
    for member, weight in zip(member_ids, weights, strict=True):
        h.update(struct.pack("<I", len(member)) + member.encode() + struct.pack("<d", float(weight)))
    return f"{re.sub(r'[^A-Za-z0-9._+-]', '_', model_id)[:80]}-{h.hexdigest()[:12]}"


def sentence_hash(src: np.ndarray, tgt: np.ndarray | None = None) -> bytes:
    """sha256 over both id sequences with their lengths (so (a, bc) and (ab, c) differ): 32 bytes."""
    h = hashlib.sha256()
    for ids in (src, np.zeros(0, dtype=np.int64) if tgt is None else tgt):
        h.update(struct.pack("<I", len(ids)))
        h.update(np.asarray(ids, dtype="<i4").tobytes())
    return h.digest()


def sentence_digest(src: np.ndarray, tgt: np.ndarray | None = None) -> str:
    """`sentence_hash` as 64 hex digits (the last part of a cache key)."""
    return sentence_hash(src, tgt).hex()
