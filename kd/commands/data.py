"""`kd data`: prepare corpora (`bible`: the demo corpus; `import`: your own, in any supported format)."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

from kd.args import add_import_args, import_spec_from_args
from s2s.bible import prepare_bible
from s2s.corpus import read_tsv
from s2s.data_import import FORMATS, Reason, import_corpus

PROGRESS_INTERVAL_S = 3.0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd data bible` and `kd data import`."""
    data = sub.add_parser("data", help="prepare parallel corpora")
    data_sub = data.add_subparsers(dest="data_command", metavar="CORPUS", required=True)
    bible = data_sub.add_parser(
        "bible", help="the Spanish-English Bible corpus (copied from ../shared, else built from SWORD)")
    bible.add_argument("--out", type=Path, default=Path("data/bible-es-en"), help="output folder")
    bible.add_argument("--source", type=Path, default=None, help="an existing corpus folder to copy from")
    bible.set_defaults(func=run_bible)
    _register_import(data_sub)


def run_bible(args: argparse.Namespace) -> int:
    out = prepare_bible(args.out, args.source)
    for split in ("train", "valid", "test"):
        corpus = read_tsv(out / f"{split}.tsv")
        bad = f", {len(corpus.problems)} bad rows skipped" if corpus.problems else ""
        print(f"{split:5s} {len(corpus.pairs):6d} pairs{bad}  ->  {out / f'{split}.tsv'}")
    return 0


def _register_import(data_sub: argparse._SubParsersAction) -> None:
    formats = "\n".join(_item(f.name, f.summary + (f" ({', '.join(f.extensions)})" if f.extensions else ""))
                        for f in FORMATS.values())
    reasons = "\n".join(_item(r.label, r.meaning) for r in Reason)
    imp = data_sub.add_parser(
        "import", help="import your own parallel corpus (TSV, two plain files, JSON Lines, Parquet): clean, split",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Read a parallel corpus, clean it (counting every dropped row by reason), split off validation and "
            "test sets by source sentence unless given, and write OUT/train.tsv, valid.tsv, test.tsv (header "
            "ref, SRC, TGT) and OUT/import.json. See docs/data.md.", width=100),
        epilog=f"formats:\n{formats}\n\nwhy rows are dropped (each counted once, under the first that applies):"
               f"\n{reasons}".replace("%", "%%"))
    add_import_args(imp)
    imp.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="the corpus folder to write (replaced as a whole if an earlier import made it)")
    imp.set_defaults(func=run_import)


def _item(name: str, text: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=f"  {name:20s} ", subsequent_indent=" " * 23)


def run_import(args: argparse.Namespace) -> int:
    spec = import_spec_from_args(args, args.out)
    report = import_corpus(spec, progress=_Progress())
    print(report.summary())
    return 0


class _Progress:
    """Prints `rows read` for a file to stderr at most every `PROGRESS_INTERVAL_S` seconds."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def __call__(self, name: str, rows: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL_S:
            self.last = now
            print(f"kd data import: {name}: {rows:,} rows read", file=sys.stderr, flush=True)
