"""Cleaning the rows of one input: normalise whitespace, drop what cannot train a translator, count why.

The checks, in the order a row meets them (it is counted under the first that fails): unreadable (bad UTF-8,
malformed: found by the reader), empty side, source equal to target, too long, length ratio, duplicate.
Duplicates are exact repeats of the normalised (source, target) pair within the input; the first is kept.
They are found through a set of 64-bit hashes of the pairs (`HashSet64`), so memory grows by 11 to 23
bytes per kept row, whatever the length of the sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from s2s.data_import.hashset import HashSet64, text_hash
from s2s.data_import.records import RawRecord, Reason, normalise
from s2s.data_import.tally import Tally
from s2s.errors import DataError
from s2s.settings import flag_of, setting


@dataclass(frozen=True)
class CleaningSettings:
    """The limits of cleaning (each also a `kd data import` flag)."""

    max_words: int = setting(200, "drop a pair with more than this many words (whitespace-separated) on either "
                                  "side", metavar="N")
    max_ratio: float = setting(3.0, "drop a pair whose longer side has more than this many times the characters "
                                    "of the shorter", metavar="X")
    ratio_min_chars: int = setting(20, "apply --max-ratio only where the longer side has at least this many "
                                       "characters (short pairs vary a lot)", metavar="N")

    def __post_init__(self) -> None:
        bad = [name for name, ok in (("max_words", self.max_words >= 1), ("max_ratio", self.max_ratio >= 1.0),
                                     ("ratio_min_chars", self.ratio_min_chars >= 0)) if not ok]
        if bad:
            raise DataError(f"cleaning: {', '.join(flag_of(CleaningSettings, b) for b in bad)} out of range "
                            "(words at least 1, ratio at least 1.0, characters at least 0)")


class CleanPair(NamedTuple):
    """A kept row: its ref (its own id, else its location), its normalised texts, and where it was read."""

    ref: str
    src: str
    tgt: str
    location: str


class Cleaner:
    """Normalises and filters the records of one input, counting every drop in `tally`."""

    def __init__(self, settings: CleaningSettings, tally: Tally) -> None:
        self.settings, self.tally = settings, tally
        self._seen = HashSet64()

    def __call__(self, record: RawRecord) -> CleanPair | None:
        """The cleaned pair, or None (the drop is counted)."""
        self.tally.read += 1
        result = self._clean(record)
        if isinstance(result, CleanPair):
            return result
        self.tally.drop(result[0], record.location, result[1])
        return None

    def _clean(self, record: RawRecord) -> CleanPair | tuple[Reason, str]:
        if record.problem is not None:
            return record.problem, record.detail
        src, tgt = normalise(record.src or ""), normalise(record.tgt or "")
        if not src or not tgt:
            return Reason.EMPTY, "empty source" if not src else "empty target"
        if src == tgt:
            return Reason.SAME, ""
        s = self.settings
        words = max(src.count(" "), tgt.count(" ")) + 1
        if words > s.max_words:
            return Reason.TOO_LONG, f"{words} words"
        short, long = sorted((len(src), len(tgt)))
        if long >= s.ratio_min_chars and long > s.max_ratio * short:
            return Reason.RATIO, f"{len(src)} vs {len(tgt)} characters"
        if not self._seen.add(text_hash(src, tgt)):
            return Reason.DUPLICATE, ""
        ref = normalise(record.ref) if record.ref else ""
        return CleanPair(ref or record.location, src, tgt, record.location)
