"""JSON Lines: one JSON object per line, its keys chosen like TSV columns.

Both flat objects (`{"id": 7, "es": "Hola", "en": "Hello"}`) and the Hugging Face translation layout
(`{"translation": {"es": "Hola", "en": "Hello"}}`) are read; in the latter the nested keys are the columns
(`translation.es`, chosen by `--src es`). The columns are those of the first readable object; a later row
missing the chosen key, or holding a non-text value there, is a malformed row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from s2s.data_import.columns import Column, ColumnChoice
from s2s.data_import.formats.base import Format, FormatSettings, InputFile, register
from s2s.data_import.records import RawRecord, Reason, bad, display_name, iter_lines
from s2s.errors import DataError


@dataclass(frozen=True)
class JsonlSettings(FormatSettings):
    """Settings of the JSON Lines reader."""

    nested_key: str = "translation"
    """The key of an object whose keys are language codes (the Hugging Face translation layout)."""
    peek_lines: int = 1000
    """How many lines may be read to find the first valid object (whose keys are the columns)."""


class JsonlTable:
    """A JSON Lines file."""

    fixed_choice: ColumnChoice | None = None

    def __init__(self, file: InputFile, settings: JsonlSettings) -> None:
        self.path, self.settings = file.path, settings
        first = self._first_object(settings.peek_lines)
        if first is None:
            raise DataError(f"{file.flag} {self.path}: no JSON object in its first {settings.peek_lines} lines; "
                            "JSON Lines has one object per line, e.g. {\"es\": \"Hola\", \"en\": \"Hello\"}")
        columns: list[Column] = []
        for key, value in first.items():
            if key == settings.nested_key and isinstance(value, dict):
                columns += [Column(f"{key}.{sub}", (key, sub), isinstance(v, str)) for sub, v in value.items()]
            else:
                columns.append(Column(key, (key,), isinstance(value, str)))
        self.columns = tuple(columns)

    def _first_object(self, limit: int) -> dict[str, Any] | None:
        lines = iter_lines(self.path)
        try:
            for lineno, text in lines:
                if lineno > limit:
                    return None
                if text is not None and text.strip():
                    try:
                        value = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(value, dict):
                        return value
            return None
        finally:
            lines.close()

    def records(self, choice: ColumnChoice) -> Iterator[RawRecord]:
        name = display_name(self.path)
        for lineno, text in iter_lines(self.path):
            location = f"{name}:{lineno}"
            if text is None:
                yield bad(location, Reason.BAD_UTF8)
            elif text.strip():
                yield _record(location, text, choice)


def _record(location: str, text: str, choice: ColumnChoice) -> RawRecord:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return bad(location, Reason.MALFORMED, f"invalid JSON ({getattr(exc, 'msg', exc)})")
    if not isinstance(obj, dict):
        return bad(location, Reason.MALFORMED, f"a JSON {type(obj).__name__}, not an object")
    values: list[str] = []
    for column in (choice.src, choice.tgt):
        value: Any = obj
        for part in column.key:
            if not isinstance(value, dict) or part not in value:
                return bad(location, Reason.MALFORMED, f"no key {column.name!r}")
            value = value[part]
        if value is None:
            value = ""
        if not isinstance(value, str):
            return bad(location, Reason.MALFORMED, f"{column.name!r} is a {type(value).__name__}, not text")
        values.append(value)
    if "\\u" in text and not all(_encodable(v) for v in values):
        return bad(location, Reason.BAD_UTF8, "a lone surrogate escape")
    ref = None
    if choice.ref is not None:
        ref_value = obj.get(choice.ref.key[0]) if len(choice.ref.key) == 1 else None
        ref = None if ref_value is None else str(ref_value)
    return RawRecord(location, values[0], values[1], ref)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


JSONL = register(Format(
    name="jsonl", summary="JSON Lines: one object per line, flat or {\"translation\": {\"es\": ..., \"en\": ...}}",
    extensions=(".jsonl", ".ndjson", ".json"), open=JsonlTable, settings=JsonlSettings()))
