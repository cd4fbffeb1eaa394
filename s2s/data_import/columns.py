"""Which columns of an input hold the source and the target text, and which one names a row.

The choice, in order: the columns named by `--src-col/--tgt-col`; else the columns named by the language
codes `--src/--tgt` (exactly, then ignoring case; a nested `translation.es` answers to `es`); else, when the
input has exactly two text columns besides an id column, those two in order (the report says so, since a
guess is announced, never silent); else an error that lists the columns found and the flags to pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from s2s.errors import DataError

ID_NAMES = frozenset({"ref", "id", "idx", "index", "key", "uid", "guid", "line", "row"})


@dataclass(frozen=True)
class Column:
    """A column of an input: its display name, how to reach it (`("translation", "es")`), whether it is text."""

    name: str
    key: tuple[str, ...]
    text: bool = True

    @property
    def leaf(self) -> str:
        """The last part of the name: `es` for `translation.es`."""
        return self.key[-1]

    @property
    def is_id(self) -> bool:
        """Named like a row id (`ref`, `id`, `verse_id`, ...): never guessed as text, used as the row's ref."""
        leaf = self.leaf.lower()
        return leaf in ID_NAMES or leaf.endswith("_id")


@dataclass(frozen=True)
class ColumnChoice:
    """The columns an import reads, and how they were chosen (for the report)."""

    src: Column
    tgt: Column
    ref: Column | None
    how: str

    def describe(self) -> str:
        ref = f", ids from {self.ref.name!r}" if self.ref is not None else ""
        return f"source {self.src.name!r}, target {self.tgt.name!r}{ref} ({self.how})"

    def as_json(self) -> dict[str, str | None]:
        return {"src": self.src.name, "tgt": self.tgt.name, "ref": self.ref.name if self.ref else None,
                "how": self.how}


def choose_columns(columns: Sequence[Column], *, src_code: str, tgt_code: str, src_col: str | None,
                   tgt_col: str | None, where: str) -> ColumnChoice:
    """Pick the source, target and id columns of `columns` (see the module docstring); `where` names the file."""
    names = [c.name for c in columns]

    def explicit(flag: str, wanted: str) -> Column:
        found = _find(columns, wanted)
        if found is None:
            raise DataError(f"{where}: {flag} {wanted!r} is not a column (or names several); the columns are {names}")
        return found

    src = explicit("--src-col", src_col) if src_col is not None else _find(columns, src_code)
    tgt = explicit("--tgt-col", tgt_col) if tgt_col is not None else _find(columns, tgt_code)
    how = "named by --src-col/--tgt-col" if src_col is not None and tgt_col is not None else \
        "named by the language codes" if src_col is None and tgt_col is None else \
        "named by --src-col/--tgt-col and the language codes"
    if src is None and tgt is None and src_col is None and tgt_col is None:
        texts = [c for c in columns if c.text and not c.is_id]
        if len(texts) == 2:
            src, tgt = texts
            how = "the only two text columns, in order; pass --src-col/--tgt-col to choose others"
    if src is None or tgt is None:
        missing = "source" if src is None else "target"
        raise DataError(
            f"{where}: cannot tell which column holds the {missing} text: the columns are {names}; pass "
            f"--src-col COLUMN --tgt-col COLUMN, or name the columns by the language codes "
            f"(--src {src_code} --tgt {tgt_code})")
    if src == tgt:
        raise DataError(f"{where}: source and target would both be column {src.name!r}; pass --src-col and "
                        f"--tgt-col naming two different columns of {names}")
    for side, col in (("source", src), ("target", tgt)):
        if not col.text:
            raise DataError(f"{where}: the {side} column {col.name!r} does not hold text; the text columns are "
                            f"{[c.name for c in columns if c.text]}")
    ref = next((c for c in columns if c.is_id and c not in (src, tgt)), None)
    return ColumnChoice(src, tgt, ref, how)


def _find(columns: Sequence[Column], wanted: str) -> Column | None:
    """The column named `wanted`: exactly, else by its last part, else ignoring case; None if none or ambiguous."""
    low = wanted.lower()
    tests: list[Callable[[Column], bool]] = [
        lambda c: c.name == wanted, lambda c: c.leaf == wanted,
        lambda c: c.name.lower() == low or c.leaf.lower() == low]
    for test in tests:
        found = [c for c in columns if test(c)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            return None
    return None
