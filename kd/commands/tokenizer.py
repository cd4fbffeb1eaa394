"""`kd tokenizer`: train a joint SentencePiece vocabulary in the Marian layout."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from kd.args import add_corpus_args, load_corpus
from s2s.corpus import Pair, iter_tsv
from s2s.tokenizer_training import train_tokenizer


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd tokenizer train`."""
    tok = sub.add_parser("tokenizer", help="train or inspect tokenizers")
    tok_sub = tok.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    train = tok_sub.add_parser("train", help="train a joint unigram SentencePiece model (source + target)")
    add_corpus_args(train)
    train.add_argument("--out", type=Path, required=True, help="output folder (source.spm, target.spm, vocab.json)")
    train.add_argument("--vocab-size", type=int, default=8000, help="pieces before <pad> is appended")
    train.set_defaults(func=run_train)


def _texts(args: argparse.Namespace) -> Iterator[str]:
    """Both sides of every usable row, streamed from a TSV (plain parallel files are small enough to read)."""
    if args.target_file is not None or args.strict or args.limit is not None:
        corpus = load_corpus(args)
        yield from corpus.sources()
        yield from corpus.targets()
        return
    for item in iter_tsv(args.data, args.src, args.tgt):
        if isinstance(item, Pair):
            yield item.src
            yield item.tgt


def run_train(args: argparse.Namespace) -> int:
    tok = train_tokenizer(_texts(args), args.out, args.vocab_size)
    print(f"tokenizer: {tok.vocab_size} ids (<pad> = {tok.pad_id}), fingerprint {tok.fingerprint}")
    print(f"written to {args.out}")
    return 0
