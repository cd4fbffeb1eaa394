"""Writing an imported corpus folder: the split TSVs, built in a temporary sibling folder and renamed into place.

The output is the layout every other command reads: `train.tsv valid.tsv test.tsv`, each with the header
`ref<TAB>{src}<TAB>{tgt}`, plus `import.json`. Nothing appears at `--out` until the whole import succeeded;
an import that fails, or is interrupted, removes its temporary folder (a killed one leaves a hidden
`.NAME.import-*` folder beside the output, never a half-written corpus).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

from s2s.atomic import swap_into_place
from s2s.data_import.cleaning import CleanPair
from s2s.errors import DataError

SPLITS = ("train", "valid", "test")
REPORT_FILE = "import.json"


class TsvWriter:
    """Writes one split: the header, then one `ref, src, tgt` row per kept pair (texts already normalised)."""

    def __init__(self, path: Path, src: str, tgt: str) -> None:
        self.path, self.rows = path, 0
        self._f: TextIO = path.open("x", encoding="utf-8", newline="\n")
        self._f.write(f"ref\t{src}\t{tgt}\n")

    def write(self, pair: CleanPair) -> None:
        self._f.write(f"{pair.ref}\t{pair.src}\t{pair.tgt}\n")
        self.rows += 1

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> TsvWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def check_out_dir(out: Path) -> None:
    """Refuse an `--out` that is a file, or a non-empty folder that an earlier import did not make.

    (An earlier import's folder is replaced as a whole, so anything else there would be deleted with it.)
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; name a folder for the corpus")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_FILE).is_file():
        raise DataError(f"--out {out} exists and was not made by `kd data import` (no {REPORT_FILE}); an import "
                        "replaces its whole output folder, so name a new folder or remove this one")


@contextmanager
def building(out: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `out`, renamed to `out` if the block succeeds, deleted if not."""
    out.parent.mkdir(parents=True, exist_ok=True)
    build = out.parent / f".{out.name}.import-{os.getpid()}-{time.time_ns()}"
    build.mkdir()
    try:
        yield build
        swap_into_place(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


@dataclass(frozen=True)
class InputDigest:
    """An input file as it was imported: which split and flag, its path, size and SHA-256."""

    split: str
    flag: str
    path: Path
    bytes: int
    sha256: str

    @classmethod
    def of(cls, split: str, flag: str, path: Path) -> InputDigest:
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        return cls(split, flag, path.resolve(), path.stat().st_size, digest)

    def as_json(self) -> dict[str, str | int]:
        return {"split": self.split, "flag": self.flag, "path": str(self.path), "bytes": self.bytes,
                "sha256": self.sha256}
