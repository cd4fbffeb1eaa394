"""Stage-2 rows pooled over several instances of a stage-1 base, for docs/results.md.

    python experiments/protocol/pooled.py --bases nll-1k,nll-1k-b2 [--recipe restart] [--out runs/protocol] [--no-docs]

One stage-1 base is one draw: row means moved by up to a third of a BLEU point between two instances of the
same base recipe, as much as the differences between distilling rows. A finding worth keeping should hold
on every instance, so this table puts each row's runs from all the given bases together: the mean per base,
the mean ± standard deviation over all (base, seed) runs, and two tests against the run's own base, the
control and Word-KD, each pairing a run with the run of the same base and seed:

- sacrebleu's paired bootstrap over verses (outputs concatenated pair by pair, so every resample draws
  (verse, base, seed) triples): is the difference larger than the choice of test verses explains?
- an exact sign-flip randomisation test on the run-level differences in BLEU: is it larger than the spread
  between seeds and bases explains? It cannot go below 2/2^n for n pairs (0.25 for three), which is the
  honest answer of three runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.doc_section import fill_section  # noqa: E402
from experiments.protocol.plan import BASES, DATA, ROWS, STAGE2, stage2_folder  # noqa: E402
from experiments.protocol.table import DECODINGS, LABELS, fmt_ps, mean_sd, paired_p_value, record, stage2_records  # noqa: E402
from experiments.run_records import RunRecord  # noqa: E402
from s2s.corpus import read_corpus  # noqa: E402

Key = tuple[str, str]  # (base, seed), e.g. ("nll-1k", "2")


def seed_of(run: RunRecord) -> str:
    """The stage-2 seed in a run's name ("ka-s2" -> "2")."""
    return run.name.rsplit("-s", 1)[1]


def pooled_runs(out: Path, bases: list[str], recipe: str) -> dict[str, dict[Key, RunRecord]]:
    """Every evaluated stage-2 run of every row on the given bases, by (base, seed)."""
    return {row: {(base, seed_of(r)): r for base in bases
                  for r in stage2_records(out, stage2_folder(base, recipe), row)} for row in ROWS}


def paired(system: dict[Key, RunRecord], baseline: dict[Key, RunRecord]) -> tuple[list[RunRecord], list[RunRecord]]:
    """The runs both have, as two lists aligned (base, seed) by (base, seed)."""
    keys = sorted(system.keys() & baseline.keys())
    return [system[k] for k in keys], [baseline[k] for k in keys]


def sign_flip_p(diffs: list[float]) -> float | None:
    """Two-sided p of the mean of paired differences under the null that each difference's sign is a coin
    toss: the share of all 2^n sign patterns whose mean is at least as far from zero. None for no pairs."""
    if not diffs:
        return None
    observed = abs(statistics.mean(diffs)) - 1e-9
    flips = list(itertools.product((1, -1), repeat=len(diffs)))
    return sum(abs(statistics.mean(s * d for s, d in zip(signs, diffs, strict=True))) >= observed
               for signs in flips) / len(flips)


def compare(system: dict[Key, RunRecord], baseline: dict[Key, RunRecord], refs: list[str]) -> str:
    """"Δ greedy · bootstrap p (greedy / beam 5) · sign-flip p (greedy / beam 5)" over the paired runs."""
    mine, theirs = paired(system, baseline)
    if not mine:
        return "–"
    diffs = {d: [a - b for x, y in zip(mine, theirs, strict=True)
                 if (a := x.bleu(d)) is not None and (b := y.bleu(d)) is not None] for d in DECODINGS}
    delta = f"{statistics.mean(diffs['greedy']):+.2f}" if diffs["greedy"] else "–"
    boot = fmt_ps([paired_p_value(mine, theirs, d, refs) for d in DECODINGS])
    return f"{delta} · {boot} · {fmt_ps([sign_flip_p(diffs[d]) for d in DECODINGS])}"


def _per_base(runs: dict[Key, RunRecord], bases: list[str]) -> str:
    """Mean greedy BLEU on each base, in the order of `bases`."""
    cells = []
    for base in bases:
        scores = [b for (name, _), r in runs.items() if name == base and (b := r.bleu("greedy")) is not None]
        cells.append(f"{statistics.mean(scores):.2f}" if scores else "–")
    return " / ".join(cells)


def pooled_table(out: Path, bases: list[str], recipe: str = "restart") -> str:
    """Per row: runs, greedy mean per base, pooled BLEU and chrF, and the paired tests described above."""
    refs = read_corpus(DATA / "test.tsv").targets()
    runs = pooled_runs(out, bases, recipe)
    starts = {base: r for base in bases if (r := record(out, BASES[base].run)) is not None and r.results}
    head = ["objective", "runs (bases × seeds)", f"greedy BLEU per base ({' / '.join(bases)})", "BLEU greedy",
            "BLEU beam 5", "chrF greedy",
            *[f"vs {name}: Δ greedy · bootstrap p · sign-flip p" for name in ("own base", "control", "Word-KD")]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
             "| stage-1 bases, no stage 2 | " + str(len(starts)) + " | "
             + " / ".join(f"{s.bleu('greedy'):.2f}" if (s := starts.get(b)) else "–" for b in bases)
             + " | " + " | ".join(mean_sd([b for s in starts.values() if (b := s.bleu(d)) is not None])
                                  for d in DECODINGS) + " | – | – | – | – |"]
    for row, found in runs.items():
        if not found:
            lines.append(f"| {LABELS[row]} | 0 | not run |" + " |" * (len(head) - 3))
            continue
        own = {key: starts[key[0]] for key in found if key[0] in starts}
        bleu = [mean_sd([b for r in found.values() if (b := r.bleu(d)) is not None]) for d in DECODINGS]
        chrf = mean_sd([c for r in found.values() if (c := r.score("greedy", "chrf")) is not None])
        cells = [LABELS[row], str(len(found)), _per_base(found, bases), *bleu, chrf, compare(found, own, refs),
                 compare(found, runs["control"], refs) if row != "control" else "–",
                 compare(found, runs["word_kd"], refs) if row != "word_kd" else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", required=True, help="comma-separated stage-1 bases, e.g. nll-1k,nll-1k-b2")
    parser.add_argument("--recipe", choices=tuple(STAGE2), default="restart")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "protocol")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    bases = [b.strip() for b in args.bases.split(",") if b.strip()]
    if unknown := [b for b in bases if b not in BASES]:
        parser.error(f"unknown base(s) {', '.join(unknown)}; choose from {', '.join(BASES)}")
    if len(bases) < 2:
        parser.error("give at least two bases to pool (for one base, use experiments/protocol/table.py)")
    table = pooled_table(args.out, bases, args.recipe)
    print(table)
    if not args.no_docs:
        fill_section(REPO / "docs" / "results.md", f"protocol-pooled-{'+'.join(bases)}", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
