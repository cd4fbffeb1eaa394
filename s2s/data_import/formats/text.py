"""Line-based formats: a TSV with a header row, and two line-aligned plain files.

TSV cells are split on tabs, without quoting (the layout of the project's corpora and of most MT corpora);
a row with another number of cells than the header is malformed. Blank lines are not rows. In plain parallel
files every line is a row, blank or not, since line N of one file is the translation of line N of the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest

from s2s.data_import.columns import Column, ColumnChoice
from s2s.data_import.formats.base import Format, FormatSettings, InputFile, register
from s2s.data_import.records import RawRecord, Reason, bad, display_name, iter_lines
from s2s.errors import DataError


@dataclass(frozen=True)
class TsvSettings(FormatSettings):
    """Settings of the TSV reader."""

    delimiter: str = "\t"
    """The cell separator (a tab; a comma only for CSV files without quoted cells)."""


class TsvTable:
    """A TSV whose first line names the columns (any names)."""

    fixed_choice: ColumnChoice | None = None

    def __init__(self, file: InputFile, settings: TsvSettings) -> None:
        self.path, self.delimiter = file.path, settings.delimiter
        lines = iter_lines(self.path)
        first = next(lines, None)
        lines.close()
        if first is None or not (first[1] or "").strip():
            raise DataError(f"{file.flag} {self.path}: no header row; a TSV's first line names its columns "
                            f"(e.g. ref<TAB>es<TAB>en); for two plain files pass --target-file")
        if first[1] is None:
            raise DataError(f"{file.flag} {self.path}: the header row is not valid UTF-8; convert the file to UTF-8")
        names = [name.strip() or f"column{i}" for i, name in enumerate(first[1].split(self.delimiter), start=1)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise DataError(f"{file.flag} {self.path}: the header names {twice} more than once; rename them")
        if len(names) < 2:
            raise DataError(f"{file.flag} {self.path}: the header has one column ({names[0]!r}); a TSV corpus needs "
                            "a source and a target column separated by a tab (or pass --format)")
        self.columns = tuple(Column(name, (name,)) for name in names)

    def records(self, choice: ColumnChoice) -> Iterator[RawRecord]:
        names = [c.name for c in self.columns]
        i_src, i_tgt = names.index(choice.src.name), names.index(choice.tgt.name)
        i_ref = names.index(choice.ref.name) if choice.ref is not None else None
        width, file_name, delimiter = len(names), display_name(self.path), self.delimiter
        lines = iter_lines(self.path)
        next(lines, None)
        for lineno, text in lines:
            location = f"{file_name}:{lineno}"
            if text is None:
                yield bad(location, Reason.BAD_UTF8)
            elif text.strip():
                cells = text.split(delimiter)
                if len(cells) != width:
                    yield bad(location, Reason.MALFORMED, f"{len(cells)} columns, the header has {width}")
                else:
                    yield RawRecord(location, cells[i_src], cells[i_tgt], cells[i_ref] if i_ref is not None else None)


class ParallelTable:
    """Two plain files, line N of the target translating line N of the source."""

    columns: tuple[Column, ...] = ()

    def __init__(self, file: InputFile, settings: FormatSettings) -> None:
        assert file.target is not None
        self.src_path, self.tgt_path = file.path, file.target
        src, tgt = Column(file.path.name, ("source",)), Column(file.target.name, ("target",))
        self.fixed_choice: ColumnChoice | None = ColumnChoice(src, tgt, None, "two line-aligned files")

    def records(self, choice: ColumnChoice) -> Iterator[RawRecord]:
        src_name, tgt_name = display_name(self.src_path), display_name(self.tgt_path)
        pairs = zip_longest(iter_lines(self.src_path), iter_lines(self.tgt_path))
        for (src_line, tgt_line) in pairs:
            if src_line is None or tgt_line is None:
                lineno = (src_line or tgt_line)[0]  # type: ignore[index]
                longer, shorter = (src_name, tgt_name) if tgt_line is None else (tgt_name, src_name)
                yield bad(f"{longer}:{lineno}", Reason.MALFORMED, f"no line {lineno} in {shorter}")
                continue
            lineno, src = src_line
            tgt = tgt_line[1]
            if src is None or tgt is None:
                yield bad(f"{src_name if src is None else tgt_name}:{lineno}", Reason.BAD_UTF8)
            else:
                yield RawRecord(f"{src_name}:{lineno}", src, tgt)


TSV = register(Format(
    name="tsv", summary="a TSV whose first row names the columns (any names)",
    extensions=(".tsv", ".tab"), open=TsvTable, settings=TsvSettings()))
PARALLEL = register(Format(
    name="parallel", summary="two line-aligned plain files: --data SOURCE_FILE --target-file TARGET_FILE",
    extensions=(), open=ParallelTable, settings=FormatSettings(), two_files=True))
