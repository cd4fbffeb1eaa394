"""Splitting validation and test sets off a corpus: by source sentence, with a seed, with exact sizes, streaming.

Every distinct source sentence gets a key, the 64-bit BLAKE2b hash of the sentence keyed with the seed: a
random number, fixed by the seed. The test set is the sources with the smallest keys, the validation set the
next ones. Since the key depends on the sentence alone, all rows of one source fall on the same side, and the
training set never shares a source with either held-out set. During the streaming pass only a bounded heap of
the smallest keys is held (at most valid + test + 1 of them), never the sentences.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from s2s.data_import.hashset import keyed_hasher
from s2s.errors import DataError
from s2s.settings import flag_of, setting

HELD_OUT = ("test", "valid")
"""The held-out splits, in the order they take the smallest keys."""
DEFAULT_FRACTION = {"valid": 0.03, "test": 0.05}
DEFAULT_CAP = {"valid": 1000, "test": 2000}


@dataclass(frozen=True)
class SplitSettings:
    """How validation and test sets are split off `--data` when no file is given for them."""

    valid_size: int | None = setting(None, "validation rows to split off --data (default: 3 % of the rows, at "
                                           "most 1,000, at least 1)", metavar="N")
    test_size: int | None = setting(None, "test rows to split off --data (default: 5 % of the rows, at most "
                                          "2,000, at least 1)", metavar="N")
    seed: int = setting(1, "seed of the split: the same seed and corpus give the same split", metavar="N")

    def __post_init__(self) -> None:
        for name in ("valid_size", "test_size"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise DataError(f"{flag_of(SplitSettings, name)} {value}: a size is 0 or more")
        if not 0 <= self.seed < 2**63:
            raise DataError(f"--seed {self.seed}: use an integer from 0 to 2**63 - 1")

    def requested(self, split: str) -> int | None:
        return self.valid_size if split == "valid" else self.test_size


def source_keyer(seed: int) -> Callable[[str], int]:
    """The split key of a (normalised) source sentence under `seed`: stable across runs and machines."""
    return keyed_hasher(seed.to_bytes(8, "little"))


class HeldOutPicker:
    """Keeps the `capacity` smallest distinct source keys offered (a bounded max-heap, plus its members)."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity = capacity
        self.key = source_keyer(seed)
        self._heap: list[int] = []  # negated keys: heap[0] is minus the largest key kept
        self._members: set[int] = set()

    def offer(self, key: int) -> None:
        """Consider one source sentence by its key (`self.key(source)`)."""
        if key in self._members or self.capacity == 0:
            return
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, -key)
            self._members.add(key)
        elif key < -self._heap[0]:
            self._members.discard(-heapq.heapreplace(self._heap, -key))
            self._members.add(key)

    @property
    def distinct(self) -> int:
        """Distinct sources seen, counted up to `capacity` (when it equals capacity there may be more)."""
        return len(self._members)

    def assign(self, sizes: dict[str, int]) -> dict[int, str]:
        """Key -> split for the held-out sources: test takes the smallest keys, then valid."""
        keys = sorted(self._members)
        routes: dict[int, str] = {}
        start = 0
        for split in HELD_OUT:
            for key in keys[start: start + sizes.get(split, 0)]:
                routes[key] = split
            start += sizes.get(split, 0)
        return routes


def capacity_for(settings: SplitSettings, missing: Sequence[str]) -> int:
    """How many keys the picker must keep: the largest sizes possible, plus one to prove a source is left."""
    return sum(settings.requested(s) if settings.requested(s) is not None else DEFAULT_CAP[s]  # type: ignore[misc]
               for s in missing) + 1


def plan_sizes(settings: SplitSettings, missing: Sequence[str], rows: int, distinct: int, where: str
               ) -> dict[str, int]:
    """The sizes (in distinct sources, one row each) of the held-out splits to cut from `rows` kept rows.

    Defaults: 3 % (valid) and 5 % (test) of the rows, at most 1,000 and 2,000, at least 1 each when there are
    three distinct sources or more, shrunk if needed so that training keeps at least one source. Explicit
    sizes are exact, or an error when the corpus has too few distinct sources.
    """
    sizes: dict[str, int] = {}
    defaults: list[str] = []
    for split in missing:
        asked = settings.requested(split)
        if asked is not None:
            sizes[split] = asked
        else:
            sizes[split] = min(DEFAULT_CAP[split], int(rows * DEFAULT_FRACTION[split]))
            if distinct >= 3:
                sizes[split] = max(1, sizes[split])
            defaults.append(split)
    budget = max(0, distinct - 1)
    fixed = sum(sizes[s] for s in missing if s not in defaults)
    if fixed > budget:
        asked_flags = " + ".join(f"{flag_of(SplitSettings, s + '_size')} {sizes[s]}"
                                 for s in ("valid", "test") if s in missing and s not in defaults)
        raise DataError(f"{where}: {asked_flags} leave no training rows: it has {distinct} distinct source "
                        f"sentences after cleaning; ask for fewer held-out rows, or give --valid/--test files")
    while sum(sizes.values()) > budget:
        largest = max(defaults, key=lambda s: sizes[s])
        sizes[largest] -= 1
    return sizes
