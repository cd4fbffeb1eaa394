"""Argument groups shared by several `kd` subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s.corpus import Corpus, read_corpus


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
