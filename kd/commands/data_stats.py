"""`kd data-stats`: complexity C(d) and faithfulness F(d) of a parallel corpus (see `s2s.data_stats`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from kd.args import add_corpus_args, load_corpus
from s2s.corpus import read_corpus
from s2s.data_stats import corpus_stats
from s2s.errors import KDError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd data-stats`."""
    stats = sub.add_parser(
        "data-stats", help="complexity and faithfulness of a (distilled) parallel corpus",
        description="IBM Model 1 translation tables over lower-cased words; complexity C(d) = mean entropy of the "
                    "source words' translation distributions, faithfulness F(d) = mean KL from the real corpus's "
                    "distributions to this one's (with --reference), both in nats, over source words seen at "
                    "least --min-count times (plain and frequency-weighted means).")
    add_corpus_args(stats)
    stats.add_argument("--reference", type=Path, default=None,
                       help="the real corpus (same sources, e.g. the training TSV) to measure faithfulness against")
    stats.add_argument("--iterations", type=int, default=5, help="IBM Model 1 EM iterations (default 5)")
    stats.add_argument("--min-count", type=int, default=5, help="source-word frequency floor (default 5)")
    stats.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    stats.set_defaults(func=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    if args.iterations < 1 or args.min_count < 1:
        raise KDError("--iterations and --min-count must be at least 1")
    corpus = load_corpus(args)
    pairs = [(p.src, p.tgt) for p in corpus.pairs]
    reference = None
    if args.reference is not None:
        reference = [(p.src, p.tgt) for p in read_corpus(args.reference, src_col=args.src, tgt_col=args.tgt).pairs]
        reference = reference[: args.limit] if args.limit is not None else reference
        if [s for s, _ in reference] != [s for s, _ in pairs]:
            raise KDError(f"--reference {args.reference} must have the same sources, in the same order, as "
                          f"{args.data} (a distilled corpus and the corpus it was made from)")
    result = corpus_stats(pairs, reference, args.iterations, args.min_count)
    print(f"{args.data}: {result.sentences} sentence pairs, {result.source_words} source words seen "
          f">= {args.min_count} times")
    print(f"complexity C(d):   {result.complexity:.4f} nats (frequency-weighted {result.complexity_weighted:.4f})")
    if result.faithfulness is not None:
        print(f"faithfulness F(d): {result.faithfulness:.4f} nats (frequency-weighted "
              f"{result.faithfulness_weighted:.4f}) against {args.reference}")
    if args.json is not None:
        args.json.write_text(json.dumps({"data": str(args.data), "reference": str(args.reference),
                                         **asdict(result)}, indent=2) + "\n", encoding="utf-8")
    return 0
