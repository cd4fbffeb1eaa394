"""Corpus formats, one module each; importing this package registers them all in `FORMATS`."""

# Registration order is the order of `--format`'s choices and of the docs: the project's own layout first.
from s2s.data_import.formats import text, jsonl, parquet  # noqa: I001
from s2s.data_import.formats.base import (
    FORMATS,
    Format,
    FormatSettings,
    InputFile,
    Table,
    check_exists,
    detect_format,
    register,
)
from s2s.data_import.formats.jsonl import JsonlSettings
from s2s.data_import.formats.parquet import ParquetSettings
from s2s.data_import.formats.text import TsvSettings

__all__ = ["FORMATS", "Format", "FormatSettings", "InputFile", "JsonlSettings", "ParquetSettings", "Table",
           "TsvSettings", "check_exists", "detect_format", "jsonl", "parquet", "register", "text"]
