"""Draw the low-resource training subset used by every student in docs/results-2026-11-22.md.

A fixed-seed random sample of the Bible training verses, kept in corpus order, so that all methods see
the same source sentences and the Seq-KD / Seq-Inter data (beam search over every sentence) stays
affordable on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="train.tsv with a header row")
    parser.add_argument("--out", type=Path, required=True, help="subset TSV to write")
    parser.add_argument("--size", type=int, default=8000, help="verses to keep")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    header, *rows = args.data.read_text(encoding="utf-8").splitlines()
    keep = sorted(random.Random(args.seed).sample(range(len(rows)), min(args.size, len(rows))))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join([header, *(rows[i] for i in keep)]) + "\n", encoding="utf-8")
    print(f"{len(keep)} of {len(rows)} verses -> {args.out}")


if __name__ == "__main__":
    main()
