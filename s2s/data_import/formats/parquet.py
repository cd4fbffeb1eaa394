"""Parquet, streamed in record batches (`ParquetFile.iter_batches`), reading only the chosen columns.

Plain string columns are columns; so are the fields of a `translation` struct column (the Hugging Face
translation layout, `translation.es`). Binary columns count as text and are decoded per value, so one bad
value is a dropped row, not a refused file. A null value is an empty side. pyarrow (installed with Ray) is
imported only when a Parquet file is read, so that `kd` starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s2s.data_import.columns import Column, ColumnChoice
from s2s.data_import.formats.base import Format, FormatSettings, InputFile, register
from s2s.data_import.records import RawRecord, Reason, bad, display_name
from s2s.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class ParquetSettings(FormatSettings):
    """Settings of the Parquet reader."""

    nested_key: str = "translation"
    """A struct column whose fields are language codes (the Hugging Face translation layout)."""
    batch_rows: int = 4096
    """Rows per record batch: the reader's memory is a few batches of the chosen columns."""


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
                or pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


class ParquetTable:
    """A Parquet file."""

    fixed_choice: ColumnChoice | None = None

    def __init__(self, file: InputFile, settings: ParquetSettings) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path, self.settings = file.path, settings
        try:
            schema = pq.ParquetFile(self.path).schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{file.flag} {self.path}: not a readable Parquet file ({exc})") from exc
        columns: list[Column] = []
        for f in schema:
            if f.name == settings.nested_key and pa.types.is_struct(f.type):
                columns += [Column(f"{f.name}.{child.name}", (f.name, child.name), _is_text(child.type))
                            for child in f.type]
            else:
                columns.append(Column(f.name, (f.name,), _is_text(f.type)))
        self.columns = tuple(columns)

    def records(self, choice: ColumnChoice) -> Iterator[RawRecord]:
        wanted = [choice.src, choice.tgt] + ([choice.ref] if choice.ref is not None else [])
        top = list(dict.fromkeys(c.key[0] for c in wanted))
        import pyarrow as pa
        import pyarrow.parquet as pq

        name, row = display_name(self.path), 0
        try:
            batches = pq.ParquetFile(self.path).iter_batches(batch_size=self.settings.batch_rows, columns=top)
            for batch in batches:
                src, tgt = _values(batch, choice.src), _values(batch, choice.tgt)
                refs = _values(batch, choice.ref) if choice.ref is not None else [None] * len(src)
                for s, t, r in zip(src, tgt, refs, strict=True):
                    row += 1
                    yield _record(f"{name}:row {row}", s, t, r)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{self.path}: Parquet read failed after row {row} ({exc}); is the file complete?") from exc


def _values(batch: pa.RecordBatch, column: Column) -> list[Any]:
    array = batch.column(column.key[0])
    if len(column.key) == 2:  # a field of a struct: flatten() keeps the struct's own nulls
        array = array.flatten()[array.type.get_field_index(column.key[1])]
    return list(array.to_pylist())


def _record(location: str, src: Any, tgt: Any, ref: Any) -> RawRecord:
    texts: list[str] = []
    for value in (src, tgt):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                return bad(location, Reason.BAD_UTF8)
        texts.append("" if value is None else value)
    return RawRecord(location, texts[0], texts[1], None if ref is None else str(ref))


PARQUET = register(Format(
    name="parquet", summary="Parquet: string columns, or a `translation` struct column (Hugging Face datasets)",
    extensions=(".parquet", ".pq"), open=ParquetTable, settings=ParquetSettings(), gzip=False))
