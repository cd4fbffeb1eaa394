"""The protocol's tables for the results docs, from the runs of `python -m experiments.protocol.run`.

    python -m experiments.protocol.table [--out runs/protocol] [--base nll] [--recipe restart] [--no-docs]

Stage 1: each stage-1 student (steps, where validation peaked, test BLEU). Stage 2: per objective, the mean
± standard deviation over seeds of BLEU (greedy, beam 5) and chrF on the whole test set, and sacrebleu's
paired bootstrap test (1,000 resamples) against the control (NLL fine-tuning) and against Word-KD. The
seeds are paired (seed s of a method against seed s of the baseline) and tested together: the systems'
outputs of all seeds are concatenated, so every resample draws (verse, seed) pairs. Diagnostics: the KA
paper's precision of the student's top-k' against the teacher's top-k, top-1 agreement and the student's
entropy at every validation, averaged over seeds (table and docs/img/protocol-diagnostics.png).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.doc_section import RESULTS_DOCS, fill_sections
from experiments.protocol.plan import ARCHIVE, BASES, DATA, ROWS, STAGE2, archive_dir, stage2_folder
from experiments.run_records import RunRecord, load_run
from s2s.corpus import read_corpus

REPO = Path(__file__).resolve().parents[2]

LABELS = {"control": "control (NLL fine-tuning)", "word_kd": "Word-KD (α=0.5, k=8)", "ka": "KA (λ=0.5, k'=8)",
          "jsd": "½KA+½KD (α=0.5)", "tie_kd": "TIE-KD (α=0.5, margin 1)", "ka_on_policy": "on-policy KA (sampled)",
          "ka_sampled": "single-sample on-policy KA (λ=0.5)", "word_kd_sampled": "Word-KD, sampled (α=0.5, m=12)"}
DECODINGS = ("greedy", "beam5")


def record(out: Path, folder: str) -> RunRecord | None:
    """The run `out`/`folder` (e.g. "stage2-nll/ka-s1"), or its archive in ARCHIVE when runs/ is gone."""
    return load_run(out / folder, archive_dir(folder))


def mean_sd(values: list[float]) -> str:
    """"mean ± sd" of the values ("–" for none, the value alone for one)."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def stage1_table(out: Path) -> str:
    """Each stage-1 student, with a paired bootstrap test of every other base against the NLL base."""
    lines = ["| stage-1 student | training data | steps | best valid BLEU (step) | test BLEU greedy | test BLEU beam 5 "
             "| p vs stage1-nll (greedy / beam 5) | train minutes |", "|" + " --- |" * 8]
    nll = record(out, "stage1-nll")
    refs = read_corpus(DATA / "test.tsv").targets()
    for name, data in ((b.run, b.data) for b in BASES.values()):
        run = record(out, name)
        evals = run.events("eval") if run else []
        if run is None or not evals:
            lines.append(f"| {name} | {data} | not run | | | | | |")
            continue
        best = max(evals, key=lambda r: r["valid_bleu"])
        cells = ["–" if (b := run.bleu(d)) is None else f"{b:.2f}" for d in DECODINGS]
        p_cells = _p_cells([run], [nll] if nll else [], refs)
        lines.append(f"| {name} | {data} | {evals[-1]['step']} | {best['valid_bleu']:.2f} ({best['step']}) "
                     f"| {cells[0]} | {cells[1]} | {p_cells} | {run.train_minutes():.0f} |")
    return "\n".join(lines)


def _p_cells(system: list[RunRecord], baseline: list[RunRecord], refs: list[str]) -> str:
    """"p greedy / p beam 5" of `system` against `baseline`; "–" where there is nothing to test."""
    return fmt_ps([paired_p_value(system, baseline, d, refs) for d in DECODINGS])


def fmt_ps(ps: list[float | None]) -> str:
    """"p greedy / p beam 5", with "–" where there was nothing to test."""
    return " / ".join("–" if p is None else f"{p:.3f}" for p in ps)


def paired_p_value(system: list[RunRecord], baseline: list[RunRecord], decoding: str,
                   refs: list[str]) -> float | None:
    """Paired bootstrap p-value of BLEU over the seeds both have, outputs concatenated seed by seed; None
    when there is nothing to pair or a run's test outputs were not kept."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    seeds = list(zip(system, baseline, strict=False))
    if not seeds or system == baseline:
        return None
    sys_hyps, base_hyps = [], []
    for mine, theirs in seeds:
        a, b = mine.hypotheses(decoding), theirs.hypotheses(decoding)
        if a is None or b is None:
            return None
        sys_hyps += a
        base_hyps += b
    test = PairedTest([("baseline", base_hyps), ("system", sys_hyps)], {"BLEU": BLEU()}, [refs * len(seeds)],
                      test_type="bs", n_samples=1000)
    _, scores = test()
    result: Any = scores["BLEU"][1]
    return float(result.p_value)


def stage2_records(out: Path, folder: str, row: str) -> list[RunRecord]:
    """The evaluated seeds of a stage-2 row in `folder` ("stage2-nll"), in seed order, from runs/ or from their
    archives."""
    names = {p.name for p in (out / folder).glob(f"{row}-s*")}
    names |= {p.name.removeprefix(f"{folder}-") for p in ARCHIVE.glob(f"{folder}-{row}-s*")}
    return [r for name in sorted(names) if (r := record(out, f"{folder}/{name}")) is not None and r.results]


def stage2_table(out: Path, base: str, folder: str, other_recipe: tuple[str, str] | None = None) -> str:
    """Per objective: BLEU and chrF over seeds, and paired tests against the stage-1 base itself (each seed
    against the same base outputs), the control and Word-KD; with `other_recipe` (the name and folder of the
    same base's runs under another stage-2 recipe), also against the same objective there."""
    refs = read_corpus(DATA / "test.tsv").targets()
    runs = {row: stage2_records(out, folder, row) for row in ROWS}
    start = record(out, BASES[base].run)
    # For each comparison, the baseline runs of each row, seed by seed.
    against = {"base": {row: [start] * len(found) if start else [] for row, found in runs.items()},
               "control": dict.fromkeys(ROWS, runs["control"]), "Word-KD": dict.fromkeys(ROWS, runs["word_kd"])}
    if other_recipe:
        name, other_folder = other_recipe
        theirs = {row: stage2_records(out, other_folder, row) for row in ROWS}
        if any(theirs.values()):  # a column only where the other recipe ran on this base
            against[name] = theirs
    head = ["objective", "seeds", "BLEU greedy", "BLEU beam 5", "chrF greedy",
            *[f"p vs {name} (greedy / beam 5)" for name in against], "train minutes"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    if start and start.results:
        cells = [f"{b:.2f}" if (b := start.score(d, m)) is not None else "–"
                 for d, m in (("greedy", "bleu"), ("beam5", "bleu"), ("greedy", "chrf"))]
        lines.append("| " + " | ".join([f"stage-1 base ({start.name}), no stage 2", "–", *cells,
                                        *["–"] * len(against), "–"]) + " |")
    for row, found in runs.items():
        if not found:
            lines.append(f"| {LABELS[row]} | 0 | not run |" + " |" * (len(head) - 3))
            continue
        bleu = {d: [b for r in found if (b := r.bleu(d)) is not None] for d in DECODINGS}
        chrf = [c for r in found if (c := r.score("greedy", "chrf")) is not None]
        tests = [_p_cells(found, baselines[row], refs) for baselines in against.values()]
        minutes = statistics.mean(r.train_minutes() for r in found)
        cells = [LABELS[row], str(len(found)), mean_sd(bleu["greedy"]), mean_sd(bleu["beam5"]), mean_sd(chrf), *tests,
                 f"{minutes:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def diagnostics(out: Path, folder: str) -> tuple[str, dict[str, dict[int, dict[str, float]]]]:
    """Mean diagnostics over seeds at each validation step, per objective."""
    series: dict[str, dict[int, dict[str, float]]] = {}
    for row in ROWS:
        by_step: dict[int, list[dict[str, Any]]] = {}
        for run in stage2_records(out, folder, row):
            for r in run.events("eval"):
                if "diag_topk_precision" in r:
                    by_step.setdefault(r["step"], []).append(r)
        series[row] = {step: {k: statistics.mean(r[k] for r in rs) for k in
                              ("diag_topk_precision", "diag_top1_agreement", "diag_student_entropy", "valid_bleu")}
                       for step, rs in sorted(by_step.items())}
    steps = sorted({s for row in series.values() for s in row})
    head = ["objective", *[f"precision@8 / top-1 / entropy at step {s}" for s in steps]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row, points in series.items():
        cells = [f"{p['diag_topk_precision']:.3f} / {p['diag_top1_agreement']:.3f} / {p['diag_student_entropy']:.2f}"
                 if (p := points.get(s)) else "–" for s in steps]
        lines.append("| " + " | ".join([LABELS[row], *cells]) + " |")
    return "\n".join(lines), series


def plot(series: dict[str, dict[int, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    keys = (("diag_topk_precision", "precision of the student's top-8 in the teacher's top-8"),
            ("diag_student_entropy", "student entropy (nats per position)"), ("valid_bleu", "valid BLEU (400 verses)"))
    for ax, (key, title) in zip(axes, keys, strict=True):
        for row, points in series.items():
            if points:
                ax.plot(list(points), [p[key] for p in points.values()], marker="o", label=LABELS[row])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("stage-2 step")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "protocol")
    parser.add_argument("--base", choices=tuple(BASES), default="nll")
    parser.add_argument("--recipe", choices=tuple(STAGE2), default="restart")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    folder = stage2_folder(args.base, args.recipe)
    other = ("restart", stage2_folder(args.base)) if args.recipe != "restart" else None
    one, two = stage1_table(args.out), stage2_table(args.out, args.base, folder, other)
    diag, series = diagnostics(args.out, folder)
    print(one, two, diag, sep="\n\n")
    if not args.no_docs:
        fill_sections(RESULTS_DOCS, "protocol-stage1", one)
        tag = folder.removeprefix("stage2-")
        fill_sections(RESULTS_DOCS, f"protocol-stage2-{tag}", two)
        fill_sections(RESULTS_DOCS, f"protocol-diagnostics-{tag}", diag)
        plot(series, REPO / "docs" / "img" / f"protocol-diagnostics-{tag}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
