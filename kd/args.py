"""Argument groups shared by several `kd` subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeVar

from s2s.corpus import Corpus, read_corpus
from s2s.data_import import FORMATS, CleaningSettings, ImportSpec, SplitSettings
from s2s.errors import KDError
from s2s.languages import Languages
from s2s.settings import add_arguments, from_args

T = TypeVar("T")


def add_corpus_args(parser: argparse.ArgumentParser, flag: str = "--data") -> None:
    """`--data FILE` (TSV with header, or the source side of a file pair), `--target-file`, columns, strictness."""
    parser.add_argument(flag, dest="data", type=Path, required=True,
                        help="TSV with a header row, or the source file of two plain parallel files")
    parser.add_argument("--target-file", type=Path, default=None, help="target file for plain parallel files")
    parser.add_argument("--src", default="es", help="source column of a TSV (default: es)")
    parser.add_argument("--tgt", default="en", help="target column of a TSV (default: en)")
    parser.add_argument("--strict", action="store_true", help="refuse the file if any row is bad (default: skip)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pairs")


def load_corpus(args: argparse.Namespace) -> Corpus:
    """Read the corpus named by `add_corpus_args`, reporting skipped rows on stderr."""
    corpus = read_corpus(args.data, args.target_file, args.src, args.tgt, "raise" if args.strict else "skip")
    for problem in corpus.problems[:20]:
        print(f"skipped {problem}", file=sys.stderr)
    if len(corpus.problems) > 20:
        print(f"... {len(corpus.problems) - 20} more bad rows skipped", file=sys.stderr)
    if args.limit is not None:
        corpus.pairs = corpus.pairs[: args.limit]
    return corpus


def add_language_args(parser: argparse.ArgumentParser) -> None:
    """`--src-lang`, `--tgt-lang`, `--prefix`: the direction of a multilingual teacher (see s2s.families)."""
    group = parser.add_argument_group("teacher direction (multilingual teachers: mBART-50, M2M100/NLLB, T5)")
    group.add_argument("--src-lang", default=None, metavar="CODE",
                       help="source language: an ISO code (es) or the model's own (spa_Latn, es_XX)")
    group.add_argument("--tgt-lang", default=None, metavar="CODE", help="target language, like --src-lang")
    group.add_argument("--prefix", default=None, metavar="TEXT",
                       help="T5 task prefix (default: derived from the languages, 'translate Spanish to English: ')")


def languages_from_args(args: argparse.Namespace, src: str | None = None, tgt: str | None = None) -> Languages:
    """The direction `add_language_args` asked for; `src`/`tgt` (e.g. a corpus's columns) fill what is unset."""
    if (getattr(args, "src_lang", None) is None) != (getattr(args, "tgt_lang", None) is None):
        raise KDError("give both --src-lang and --tgt-lang, or neither")
    return Languages(getattr(args, "src_lang", None) or src, getattr(args, "tgt_lang", None) or tgt,
                     getattr(args, "prefix", None))


def add_import_args(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The flags of a corpus import (`kd data import`; `kd up --data` can reuse them), all but `--out`.

    With `required=False`, `--data`, `--src` and `--tgt` become optional (a command that imports only when
    `--data` is given checks them itself).
    """
    corpus = parser.add_argument_group("corpus")
    corpus.add_argument("--data", type=Path, required=required, metavar="FILE",
                        help="the corpus: a TSV with a header row, a .jsonl, a .parquet, or the source file of two "
                             "plain line-aligned files (with --target-file)")
    corpus.add_argument("--target-file", type=Path, default=None, metavar="FILE",
                        help="the target file, line N translating line N of --data")
    corpus.add_argument("--src", required=required, metavar="CODE", help="source language code (e.g. es)")
    corpus.add_argument("--tgt", required=required, metavar="CODE", help="target language code (e.g. en)")
    corpus.add_argument("--src-col", default=None, metavar="COLUMN",
                        help="the source column (default: the column named like --src, or the first of exactly "
                             "two text columns)")
    corpus.add_argument("--tgt-col", default=None, metavar="COLUMN", help="the target column (as --src-col)")
    corpus.add_argument("--format", choices=list(FORMATS), default=None,
                        help="the input format (default: from the file extension, or parallel with --target-file)")
    corpus.add_argument("--valid", nargs="+", type=Path, default=None, metavar=("FILE", "TARGET_FILE"),
                        help="a validation file, read like --data (for two plain files: SOURCE_FILE TARGET_FILE); "
                             "default: split off --data")
    corpus.add_argument("--test", nargs="+", type=Path, default=None, metavar=("FILE", "TARGET_FILE"),
                        help="a test file (as --valid); default: split off --data")
    add_arguments(parser.add_argument_group("split (when --valid/--test are not given)"), SplitSettings)
    add_arguments(parser.add_argument_group("cleaning"), CleaningSettings)


def import_spec_from_args(args: argparse.Namespace, out: Path) -> ImportSpec:
    """The `ImportSpec` of the flags `add_import_args` added, writing the corpus to `out`."""
    if args.data is None or args.src is None or args.tgt is None:
        raise KDError("a corpus import needs --data FILE, --src CODE and --tgt CODE")
    held_out: dict[str, list[Path]] = {split: getattr(args, split) or [] for split in ("valid", "test")}
    for split, files in held_out.items():
        if len(files) > 2:
            raise KDError(f"--{split} takes one file, or two for plain parallel files (source, target)")

    def nth(split: str, i: int) -> Path | None:
        return held_out[split][i] if len(held_out[split]) > i else None

    return ImportSpec(data=args.data, target_file=args.target_file, src=args.src, tgt=args.tgt, out=out,
                      format=args.format, src_col=args.src_col, tgt_col=args.tgt_col,
                      valid=nth("valid", 0), valid_target=nth("valid", 1), test=nth("test", 0),
                      test_target=nth("test", 1), cleaning=from_args(CleaningSettings, args),
                      split=from_args(SplitSettings, args))
