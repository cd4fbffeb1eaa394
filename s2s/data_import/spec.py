"""`ImportSpec`: everything one corpus import needs, checked as a whole before any file is read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s2s.data_import.cleaning import CleaningSettings
from s2s.data_import.formats import FormatSettings, InputFile
from s2s.data_import.splitting import SplitSettings
from s2s.errors import DataError


@dataclass(frozen=True)
class ImportSpec:
    """A corpus import: the input files, the language pair, the output folder and the settings.

    `src` and `tgt` are language codes (`es`, `en`, `eng_Latn`): they choose columns named after them and
    name the output's columns. `valid`/`test` are held-out files read like `data` (with `valid_target` /
    `test_target` for two plain files); a split without a file is cut from `data` (see `SplitSettings`).
    """

    data: Path
    src: str
    tgt: str
    out: Path
    target_file: Path | None = None
    format: str | None = None
    """A name in `FORMATS`; None detects it from `data`'s extension (or `target_file`)."""
    src_col: str | None = None
    tgt_col: str | None = None
    valid: Path | None = None
    valid_target: Path | None = None
    test: Path | None = None
    test_target: Path | None = None
    cleaning: CleaningSettings = field(default_factory=CleaningSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    format_settings: FormatSettings | None = None
    """Replaces the format's default settings (an instance of that format's settings class)."""

    def __post_init__(self) -> None:
        for flag, code in (("--src", self.src), ("--tgt", self.tgt)):
            if not code or not code.isprintable() or any(c.isspace() for c in code) or code == "ref":
                raise DataError(f"{flag} {code!r}: give a language code such as es, en or eng_Latn (it names the "
                                "output's column, so no spaces, and not 'ref')")
        if self.src == self.tgt:
            raise DataError(f"--src and --tgt are both {self.src!r}: a corpus translates between two languages")
        for split in ("valid", "test"):
            if getattr(self, f"{split}_target") is not None and getattr(self, split) is None:
                raise DataError(f"a target file for --{split} without the --{split} source file; give both")
            if getattr(self, split) is not None and self.split.requested(split) is not None:
                raise DataError(f"--{split}-size applies to a {split} set split off --data; with --{split} "
                                f"{getattr(self, split)} the file is the {split} set: drop one of the two")

    def inputs(self) -> dict[str, InputFile]:
        """The files to read, by split (train from `data`; valid and test only where given)."""
        files = {"train": InputFile(self.data, self.target_file, "--data")}
        for split in ("valid", "test"):
            path = getattr(self, split)
            if path is not None:
                files[split] = InputFile(path, getattr(self, f"{split}_target"), f"--{split}")
        return files

    def as_json(self) -> dict[str, Any]:
        """The spec with absolute paths: equal for two imports of the same files with the same settings."""
        values: dict[str, Any] = {}
        for name in ("data", "target_file", "valid", "valid_target", "test", "test_target", "out"):
            path = getattr(self, name)
            values[name] = None if path is None else str(Path(path).resolve())
        values.update(src=self.src, tgt=self.tgt, format=self.format, src_col=self.src_col, tgt_col=self.tgt_col,
                      cleaning=asdict(self.cleaning), split=asdict(self.split),
                      format_settings=None if self.format_settings is None else asdict(self.format_settings))
        return values
