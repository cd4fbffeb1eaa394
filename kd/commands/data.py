"""`kd data`: prepare corpora."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2s.bible import prepare_bible
from s2s.corpus import read_tsv


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd data bible`."""
    data = sub.add_parser("data", help="prepare parallel corpora")
    data_sub = data.add_subparsers(dest="data_command", metavar="CORPUS", required=True)
    bible = data_sub.add_parser(
        "bible", help="the Spanish-English Bible corpus (copied from ../shared, else built from SWORD)")
    bible.add_argument("--out", type=Path, default=Path("data/bible-es-en"), help="output folder")
    bible.add_argument("--source", type=Path, default=None, help="an existing corpus folder to copy from")
    bible.set_defaults(func=run_bible)


def run_bible(args: argparse.Namespace) -> int:
    out = prepare_bible(args.out, args.source)
    for split in ("train", "valid", "test"):
        corpus = read_tsv(out / f"{split}.tsv")
        bad = f", {len(corpus.problems)} bad rows skipped" if corpus.problems else ""
        print(f"{split:5s} {len(corpus.pairs):6d} pairs{bad}  ->  {out / f'{split}.tsv'}")
    return 0
