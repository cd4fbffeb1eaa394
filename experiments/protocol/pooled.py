"""Stage-2 rows pooled over several instances of a stage-1 base, for the results docs.

    python -m experiments.protocol.pooled --bases nll-1k,nll-1k-b2 [--recipe restart] [--out runs/protocol] [--no-docs]

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

With the docs it also draws every pair's difference as a dot (`pairs_plot.py`,
docs/img/protocol-pooled-<bases>.png), the picture behind the sign-flip test.

Given one base, the table is that base's run-level view: the same tests, with the seeds as the only pairs
(`table.py` gives the bootstrap alone).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.doc_section import RESULTS_DOCS, fill_sections
from experiments.protocol.pairs_plot import Key, comparisons, pair_differences, plot_pairs
from experiments.protocol.plan import BASES, DATA, ROWS, STAGE2, stage2_folder
from experiments.protocol.significance import holm, sign_flip_p
from experiments.protocol.table import DECODINGS, LABELS, fmt_ps, mean_sd, paired_p_value, record, stage2_records
from experiments.run_records import RunRecord
from s2s.corpus import read_corpus

REPO = Path(__file__).resolve().parents[2]


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


@dataclass(frozen=True)
class Comparison:
    """A row against one baseline over the paired runs: mean greedy difference and p-values by decoding."""

    delta: float | None
    bootstrap: tuple[float | None, ...]
    sign_flip: tuple[float | None, ...]

    def cell(self) -> str:
        """"Δ greedy · bootstrap p (greedy / beam 5) · sign-flip p (greedy / beam 5)"."""
        delta = "–" if self.delta is None else f"{self.delta:+.2f}"
        return f"{delta} · {fmt_ps(list(self.bootstrap))} · {fmt_ps(list(self.sign_flip))}"


def comparison(system: dict[Key, RunRecord], baseline: dict[Key, RunRecord], refs: list[str]) -> Comparison | None:
    """The paired tests of `system` against `baseline`; None when no run pairs."""
    mine, theirs = paired(system, baseline)
    if not mine:
        return None
    diffs = {d: [diff for _, diff in pairs] for d, pairs in pair_differences(system, baseline).items()}
    return Comparison(statistics.mean(diffs["greedy"]) if diffs["greedy"] else None,
                      tuple(paired_p_value(mine, theirs, d, refs) for d in DECODINGS),
                      tuple(sign_flip_p(diffs[d]) for d in DECODINGS))


BASELINES = ("own base", "control", "Word-KD")
BASELINE_ROWS = {"control": "control", "Word-KD": "word_kd"}  # the baselines that are rows themselves
Comparisons = dict[str, dict[str, Comparison | None]]  # baseline -> row -> comparison


def holm_table(comparisons: Comparisons) -> str:
    """The same p-values, Holm-adjusted within each family: one baseline, one test, one decoding, all rows."""
    adjusted: dict[str, dict[str, Comparison]] = {}
    for baseline, by_row in comparisons.items():
        found = {row: c for row, c in by_row.items() if c is not None}
        fields = {}
        for test in ("bootstrap", "sign_flip"):
            per_decoding = [holm({row: getattr(c, test)[i] for row, c in found.items()})
                            for i in range(len(DECODINGS))]
            fields[test] = {row: tuple(adj[row] for adj in per_decoding) for row in found}
        adjusted[baseline] = {row: Comparison(c.delta, fields["bootstrap"][row], fields["sign_flip"][row])
                              for row, c in found.items()}
    head = ["objective", *[f"vs {b}: Δ greedy · bootstrap p · sign-flip p, Holm-adjusted" for b in BASELINES]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    rows = [row for row in ROWS if any(row in adjusted[b] for b in BASELINES)]
    for row in rows:
        cells = [(adj.cell() if (adj := adjusted[b].get(row)) else "–") for b in BASELINES]
        lines.append(f"| {LABELS[row]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _per_base(runs: dict[Key, RunRecord], bases: list[str]) -> str:
    """Mean greedy BLEU on each base, in the order of `bases`."""
    cells = []
    for base in bases:
        scores = [b for (name, _), r in runs.items() if name == base and (b := r.bleu("greedy")) is not None]
        cells.append(f"{statistics.mean(scores):.2f}" if scores else "–")
    return " / ".join(cells)


def base_records(out: Path, bases: list[str]) -> dict[str, RunRecord]:
    """The evaluated stage-1 run of each base, by base."""
    return {base: r for base in bases if (r := record(out, BASES[base].run)) is not None and r.results}


def pooled_table(runs: dict[str, dict[Key, RunRecord]], starts: dict[str, RunRecord], bases: list[str]) -> str:
    """Per row (`pooled_runs`): runs, greedy mean per base, pooled BLEU and chrF, and the paired tests
    described above, against the bases' own runs (`base_records`) and the baseline rows."""
    refs = read_corpus(DATA / "test.tsv").targets()
    compared: Comparisons = {b: {} for b in BASELINES}
    head = ["objective", "runs (bases × seeds)", f"greedy BLEU per base ({' / '.join(bases)})", "BLEU greedy",
            "BLEU beam 5", "chrF greedy",
            *[f"vs {name}: Δ greedy · bootstrap p · sign-flip p" for name in BASELINES]]
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
        versus = {"own base": own, **{name: runs[key] for name, key in BASELINE_ROWS.items()}}
        for baseline, other in versus.items():
            itself = BASELINE_ROWS.get(baseline) == row
            compared[baseline][row] = None if itself else comparison(found, other, refs)
        cells = [LABELS[row], str(len(found)), _per_base(found, bases), *bleu, chrf,
                 *[(found_c.cell() if (found_c := compared[b][row]) else "–") for b in BASELINES]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + HOLM_INTRO + holm_table(compared)


HOLM_INTRO = ("\n\nThe same tests with Holm's correction for comparing every row with one baseline (the family:\n"
              "one baseline, one test, one decoding, all rows tested). A row differs from the baseline at the\n"
              "5 % level across its family where its adjusted p is below 0.05.\n\n")


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
    if not bases:
        parser.error("give at least one base")
    if len(set(bases)) < len(bases):
        parser.error(f"a base is named twice in {args.bases}; each base's runs count once")
    runs, starts = pooled_runs(args.out, bases, args.recipe), base_records(args.out, bases)
    table = pooled_table(runs, starts, bases)
    print(table)
    if not args.no_docs:
        tag = f"protocol-pooled-{'+'.join(bases)}"
        fill_sections(RESULTS_DOCS, tag, table)
        plot_pairs(comparisons(runs, starts, BASELINE_ROWS), bases, REPO / "docs" / "img" / f"{tag}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
