"""The corpus-format registry: each format is declared once, with its extensions and its own frozen settings.

Everything else (detection, the CLI's `--format` choices, the docs) reads `FORMATS`. A format's `open` reads
only what it needs to list the input's columns (a header, the first JSON object, a Parquet schema) and returns
a `Table` whose `records` streams the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from s2s.data_import.columns import Column, ColumnChoice
from s2s.data_import.records import RawRecord
from s2s.errors import DataError


@dataclass(frozen=True)
class FormatSettings:
    """Settings of a format that has none; formats with settings subclass it (frozen, with defaults)."""


@dataclass(frozen=True)
class InputFile:
    """A file to import (`target` set for two line-aligned files) and the flag that named it, for messages."""

    path: Path
    target: Path | None = None
    flag: str = "--data"

    def paths(self) -> tuple[Path, ...]:
        return (self.path,) if self.target is None else (self.path, self.target)


class Table(Protocol):
    """An opened input: the columns it offers and a streaming reader of its rows."""

    columns: tuple[Column, ...]
    fixed_choice: ColumnChoice | None
    """Set where the layout fixes the columns (two plain files): no choice, and no --src-col/--tgt-col."""

    def records(self, choice: ColumnChoice) -> Iterator[RawRecord]:
        """Yield every row (including unreadable ones, as problems), in file order, without loading the file."""
        ...


S = TypeVar("S", bound=FormatSettings)


@dataclass(frozen=True)
class Format(Generic[S]):
    """One corpus format."""

    name: str
    summary: str
    extensions: tuple[str, ...]
    """Lower-case file name endings that select this format (a trailing `.gz` is looked through where allowed)."""
    open: Callable[[InputFile, S], Table]
    settings: S
    """The defaults; `ImportSpec.format_settings` may replace them with another instance of the same class."""
    two_files: bool = False
    """Reads a source file and a target file (`--target-file`)."""
    gzip: bool = True
    """Reads `.gz`-compressed files too."""


FORMATS: dict[str, Format[Any]] = {}


def register(fmt: Format[Any]) -> Format[Any]:
    """Add a format to the registry (once)."""
    if fmt.name in FORMATS:
        raise ValueError(f"corpus format {fmt.name!r} is registered twice")
    FORMATS[fmt.name] = fmt
    return fmt


def detect_format(file: InputFile, name: str | None = None) -> Format[Any]:
    """The format `name` (`--format`), else the one a second file implies, else the one the extension names."""
    if name is not None:
        if name not in FORMATS:
            raise DataError(f"unknown corpus format {name!r}; the formats are {sorted(FORMATS)}")
        fmt = FORMATS[name]
        if fmt.two_files != (file.target is not None):
            need = "needs" if fmt.two_files else "does not take"
            raise DataError(f"--format {name} {need} a target file ({file.flag} {file.path}); "
                            f"{'pass --target-file FILE' if fmt.two_files else 'drop --target-file'}")
        return fmt
    if file.target is not None:
        return next(f for f in FORMATS.values() if f.two_files)
    lower = file.path.name.lower()
    for fmt in FORMATS.values():
        bases = [lower, lower.removesuffix(".gz")] if fmt.gzip else [lower]
        if not fmt.two_files and any(b.endswith(ext) for b in bases for ext in fmt.extensions):
            return fmt
    known = ", ".join(f"{f.name} ({' '.join(f.extensions)})" for f in FORMATS.values() if not f.two_files)
    raise DataError(f"{file.flag} {file.path}: cannot tell the format from the file name; pass --format "
                    f"{{{','.join(FORMATS)}}} (by extension: {known}; two plain files: --target-file)")


def check_exists(file: InputFile) -> None:
    """A clear error for a missing input, naming the flag that gave it."""
    target_flag = "--target-file" if file.flag == "--data" else file.flag
    for path, flag in zip(file.paths(), (file.flag, target_flag), strict=False):
        if not path.is_file():
            raise DataError(f"{flag} {path}: no such file; check the path")
