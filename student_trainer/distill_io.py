"""Reading the rows of a TSV with all its columns, and writing files atomically (for `distill_data`).

The distilled corpora keep every column of the input (e.g. `ref`), so rows are read as cells rather
than as `s2s.corpus` pairs; rows that the trainer would skip anyway (wrong column count, empty source or
target) are left out and counted.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from s2s.errors import DataError


@dataclass(frozen=True)
class SourceRow:
    """All cells of one TSV row, plus its source and reference target text."""

    cells: list[str]
    src: str
    tgt: str


@dataclass(frozen=True)
class SourceTable:
    """The header and the usable rows of a TSV."""

    header: list[str]
    rows: list[SourceRow]
    tgt_index: int
    skipped: int


def read_table(path: Path, src_col: str, tgt_col: str) -> SourceTable:
    """Read a TSV with a header naming `src_col` and `tgt_col`; malformed or empty rows are skipped."""
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc}); convert it to UTF-8") from exc
    if not lines:
        raise DataError(f"{path} is empty; it needs a header row naming the columns")
    header = lines[0].split("\t")
    for col in (src_col, tgt_col):
        if col not in header:
            raise DataError(f"{path}: header {header} has no column {col!r}; pass --src / --tgt")
    i_src, i_tgt = header.index(src_col), header.index(tgt_col)
    rows: list[SourceRow] = []
    skipped = 0
    for line in lines[1:]:
        cells = line.split("\t")
        src = " ".join(cells[i_src].split()) if len(cells) == len(header) else ""
        tgt = " ".join(cells[i_tgt].split()) if len(cells) == len(header) else ""
        if not src or not tgt:
            skipped += 1
            continue
        rows.append(SourceRow(cells, src, tgt))
    if not rows:
        raise DataError(f"{path} has no usable rows (all {skipped} rows are malformed or empty)")
    return SourceTable(header, rows, i_tgt, skipped)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary sibling renamed into place (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
