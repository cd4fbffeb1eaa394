"""A compact set of 64-bit hashes, for finding repeated sentences without holding their text.

Open addressing with linear probing in one flat array of unsigned 64-bit slots (`array('Q')`: 8 bytes a
slot, kept at most 70 % full, so 11 to 23 bytes per member, 34 for a moment while it doubles, against about
60 for a Python `set` of ints and far more for the strings themselves). Slot value 0 means empty, so the
hash 0 is stored as 1. Two different texts share a 64-bit hash with probability about n^2 / 2^65: 1 in 3,700
for a hundred million rows.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable

_MAX_LOAD = 0.7
_MASK64 = (1 << 64) - 1


def text_hash(*texts: str) -> int:
    """A 64-bit hash of one text or a tuple of texts, for finding repeats within one run.

    Python's own string hash (SipHash, salted per process, cached on the string): fast, and as good as any
    64-bit hash for equality tests; not stable across runs, so never used for the seeded split.
    """
    return hash(texts) & _MASK64


def keyed_hasher(key: bytes) -> Callable[[str], int]:
    """A stable 64-bit BLAKE2b hash keyed with `key` (the split's seed): the same text and key, the same value."""
    base = hashlib.blake2b(digest_size=8, key=key)

    def keyed(text: str) -> int:
        h = base.copy()
        h.update(text.encode("utf-8"))
        return int.from_bytes(h.digest(), "little")

    return keyed


class HashSet64:
    """A set of 64-bit integers in a flat array, growing by doubling."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 16
        while size * _MAX_LOAD < capacity:
            size *= 2
        self._slots = array("Q", [0]) * size
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Memory held by the slots."""
        return len(self._slots) * self._slots.itemsize

    def _slot(self, value: int) -> int:
        """The slot holding `value`, or the empty slot where it would go."""
        slots, mask = self._slots, self._mask
        i = (value ^ (value >> 29)) & mask
        while True:
            here = slots[i]
            if here == value or here == 0:
                return i
            i = (i + 1) & mask

    def add(self, value: int) -> bool:
        """Add `value` (a 64-bit unsigned integer); True if it was not there yet."""
        value = (value & _MASK64) or 1
        slots, mask = self._slots, self._mask
        i = (value ^ (value >> 29)) & mask
        while (here := slots[i]) != 0:  # the probe of `_slot`, inlined: this runs once per row
            if here == value:
                return False
            i = (i + 1) & mask
        slots[i] = value
        self._count += 1
        if self._count > _MAX_LOAD * len(slots):
            self._grow()
        return True

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        value = (value & _MASK64) or 1
        return self._slots[self._slot(value)] == value

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", [0]) * (2 * len(old))
        self._mask = len(self._slots) - 1
        for value in old:
            if value:
                self._slots[self._slot(value)] = value
