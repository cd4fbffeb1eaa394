"""Reading parallel text: a TSV with a header row, or two line-aligned plain files.

Bad rows (empty side, wrong number of columns, undecodable bytes, mismatched line counts) are reported with
their line numbers and either skipped or refused, never silently kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from s2s.errors import DataError

OnError = Literal["skip", "raise"]


@dataclass(frozen=True)
class Pair:
    """One aligned sentence pair; `ref` names it (a verse reference, or `line N`)."""

    ref: str
    src: str
    tgt: str
    cells: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """All cells of the TSV row it came from (empty for plain parallel files), for writers that keep them."""


@dataclass(frozen=True)
class Problem:
    """A rejected row: where it was and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class Corpus:
    """The accepted pairs of a file and the problems found while reading it."""

    pairs: list[Pair]
    problems: list[Problem] = field(default_factory=list)
    header: tuple[str, ...] = ()
    """The TSV header row (empty for plain parallel files)."""

    def sources(self) -> list[str]:
        return [p.src for p in self.pairs]

    def targets(self) -> list[str]:
        return [p.tgt for p in self.pairs]


def read_tsv(path: Path, src_col: str = "es", tgt_col: str = "en", on_error: OnError = "skip") -> Corpus:
    """Read a TSV whose header names the columns; `ref` is optional, `src_col` and `tgt_col` are required."""
    path = Path(path)
    lines = _read_lines(path)
    if not lines:
        raise DataError(f"{path} is empty; a TSV needs a header row naming the columns (e.g. ref, es, en)")
    header = lines[0].split("\t")
    for col in (src_col, tgt_col):
        if col not in header:
            raise DataError(f"{path}: header {header} has no column {col!r}; name it or pass --src/--tgt")
    i_src, i_tgt = header.index(src_col), header.index(tgt_col)
    i_ref = header.index("ref") if "ref" in header else None
    pairs: list[Pair] = []
    problems: list[Problem] = []
    for lineno, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            problems.append(Problem(str(path), lineno, f"{len(cells)} columns, header has {len(header)}"))
            continue
        ref = cells[i_ref] if i_ref is not None else f"line {lineno}"
        _accept(pairs, problems, str(path), lineno, ref, cells[i_src], cells[i_tgt], tuple(cells))
    return _finish(Corpus(pairs, problems, tuple(header)), on_error)


def iter_tsv(path: Path, src_col: str = "es", tgt_col: str = "en") -> Iterator[Pair | Problem]:
    """Stream a TSV with a header row: a `Pair` per usable row, a `Problem` per rejected one (wrong column
    count, an empty side, a line that is not UTF-8), in file order, one line in memory at a time. Large
    corpora go through here; `read_tsv` reads small files whole."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    with path.open("rb") as f:
        header = f.readline().decode("utf-8-sig", errors="replace").rstrip("\r\n").split("\t")
        for col in (src_col, tgt_col):
            if col not in header:
                raise DataError(f"{path}: header {header} has no column {col!r}; name it or pass --src/--tgt")
        i_src, i_tgt = header.index(src_col), header.index(tgt_col)
        i_ref = header.index("ref") if "ref" in header else None
        for lineno, raw in enumerate(f, start=2):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield Problem(str(path), lineno, "not valid UTF-8")
                continue
            cells = line.split("\t")
            if len(cells) != len(header):
                yield Problem(str(path), lineno, f"{len(cells)} columns, header has {len(header)}")
                continue
            src, tgt = " ".join(cells[i_src].split()), " ".join(cells[i_tgt].split())
            if not src or not tgt:
                yield Problem(str(path), lineno, f"empty {'source' if not src else 'target'} text")
                continue
            yield Pair(cells[i_ref] if i_ref is not None else f"line {lineno}", src, tgt, tuple(cells))


def tsv_header(path: Path) -> tuple[str, ...]:
    """The header row of a TSV (read without the rest of the file)."""
    with Path(path).open("rb") as f:
        return tuple(f.readline().decode("utf-8-sig", errors="replace").rstrip("\r\n").split("\t"))


def read_parallel_files(src_path: Path, tgt_path: Path, on_error: OnError = "skip") -> Corpus:
    """Read two plain files whose line N are translations of each other."""
    src_lines, tgt_lines = _read_lines(Path(src_path)), _read_lines(Path(tgt_path))
    pairs: list[Pair] = []
    problems: list[Problem] = []
    if len(src_lines) != len(tgt_lines):
        problems.append(Problem(str(tgt_path), min(len(src_lines), len(tgt_lines)) + 1,
                                f"line counts differ: {len(src_lines)} source vs {len(tgt_lines)} target; "
                                "lines past the shorter file are dropped"))
    for lineno, (s, t) in enumerate(zip(src_lines, tgt_lines, strict=False), start=1):
        _accept(pairs, problems, str(src_path), lineno, f"line {lineno}", s, t)
    return _finish(Corpus(pairs, problems), on_error)


def read_corpus(path: Path, tgt_path: Path | None = None, src_col: str = "es", tgt_col: str = "en",
                on_error: OnError = "skip") -> Corpus:
    """Read a TSV (`path` alone) or a pair of plain parallel files (`path` = source, `tgt_path` = target)."""
    if tgt_path is not None:
        return read_parallel_files(path, tgt_path, on_error)
    return read_tsv(path, src_col, tgt_col, on_error)


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {exc.start}); convert the file to UTF-8") from exc
    return text.splitlines()


def _accept(pairs: list[Pair], problems: list[Problem], path: str, lineno: int, ref: str, src: str,
            tgt: str, cells: tuple[str, ...] = ()) -> None:
    src, tgt = " ".join(src.split()), " ".join(tgt.split())
    if not src or not tgt:
        side = "source" if not src else "target"
        problems.append(Problem(path, lineno, f"empty {side} text"))
        return
    pairs.append(Pair(ref, src, tgt, cells))


def _finish(corpus: Corpus, on_error: OnError) -> Corpus:
    if corpus.problems and on_error == "raise":
        shown = "\n".join(str(p) for p in corpus.problems[:10])
        more = f"\n... and {len(corpus.problems) - 10} more" if len(corpus.problems) > 10 else ""
        raise DataError(f"{len(corpus.problems)} bad rows (use on_error='skip' / --skip-bad-rows to drop them):\n"
                        f"{shown}{more}")
    return corpus


