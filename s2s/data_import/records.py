"""What a format reader yields, why a row can be dropped, and the streaming line reader the text formats share.

A reader never judges a row's content: it yields a `RawRecord` per row with the row's location and either the
two texts or the problem that made them unreadable (bad UTF-8, a malformed row). Cleaning decides the rest.
Lines are decoded one at a time, so one undecodable line is dropped and counted instead of the whole file
being refused, and no file is ever read into memory at once.
"""

from __future__ import annotations

import enum
import gzip
from collections.abc import Generator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from s2s.errors import DataError


class Reason(enum.StrEnum):
    """Why a row was dropped; a row is counted once, under the first reason (in this order) that applies."""

    BAD_UTF8 = "bad_utf8"
    MALFORMED = "malformed"
    EMPTY = "empty"
    SAME = "same"
    TOO_LONG = "too_long"
    RATIO = "ratio"
    DUPLICATE = "duplicate"
    OVERLAP = "overlap"

    @property
    def label(self) -> str:
        """A short name for tables."""
        return _LABELS[self][0]

    @property
    def meaning(self) -> str:
        """One sentence for the docs and `--help`."""
        return _LABELS[self][1]


_LABELS: dict[Reason, tuple[str, str]] = {
    Reason.BAD_UTF8: ("bad UTF-8", "the line (or a value) is not valid UTF-8 text"),
    Reason.MALFORMED: ("malformed row", "a row that cannot be read as a pair: wrong number of TSV columns, "
                                        "invalid JSON, a missing key or a non-text value, a line without a "
                                        "partner in the other file"),
    Reason.EMPTY: ("empty side", "the source or the target is empty (after whitespace normalisation)"),
    Reason.SAME: ("source = target", "the target is the source, copied (an untranslated pair)"),
    Reason.TOO_LONG: ("too long", "a side has more words than --max-words"),
    Reason.RATIO: ("length ratio", "one side is more than --max-ratio times longer (in characters) than the "
                                   "other, and the longer side has at least --ratio-min-chars characters"),
    Reason.DUPLICATE: ("duplicate", "the same (source, target) pair was kept earlier in this file"),
    Reason.OVERLAP: ("overlaps valid/test", "the source sentence is in the validation or test set (a training "
                                            "row), or is already there with another target (a held-out row)"),
}


class RawRecord(NamedTuple):
    """One row as read: where it is, its two texts (`None` when unreadable) and, if any, the reader's problem.

    (A named tuple rather than a frozen dataclass: one is made per row, and this is several times faster.)
    """

    location: str
    """`file:line` for text formats, `file:row N` for Parquet: what the examples in the report show."""
    src: str | None = None
    tgt: str | None = None
    ref: str | None = None
    """The row's own id (a `ref` or `id` column), if the input has one."""
    problem: Reason | None = None
    """`BAD_UTF8` or `MALFORMED` when the reader could not make a pair of this row."""
    detail: str = ""


def bad(location: str, reason: Reason, detail: str = "") -> RawRecord:
    """A record the reader could not read."""
    return RawRecord(location, problem=reason, detail=detail)


def open_binary(path: Path) -> BinaryIO:
    """Open a file for streaming reads, transparently decompressing `.gz`."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def iter_lines(path: Path) -> Generator[tuple[int, str | None], None, None]:
    """Yield `(line number, text)` for each line, `text` None where the line is not valid UTF-8.

    Lines end at `\\n` only (a stray `\\r` or Unicode line separator inside a cell stays in the cell and is
    normalised away later); a UTF-8 byte-order mark at the start of the file is dropped.
    """
    try:
        with open_binary(path) as f:
            for lineno, raw in enumerate(f, start=1):
                raw = raw.rstrip(b"\n").removesuffix(b"\r")
                if lineno == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield lineno, None
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz, an unreadable file
        raise DataError(f"{path}: cannot be read ({exc}); check that the file is complete") from exc


def display_name(path: Path) -> str:
    """A file's name as locations show it (whitespace normalised: a location is written into a TSV cell)."""
    return normalise(path.name) or "?"


def normalise(text: str) -> str:
    """Collapse every run of whitespace (tabs and line breaks included) into one space, and strip the ends."""
    return " ".join(text.split())
