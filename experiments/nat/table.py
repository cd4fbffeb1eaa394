"""Tables and plot of the Mask-Predict experiment: students' BLEU and speed, and the data they learnt from.

    python -m experiments.nat.table [--runs runs/nat] [--stats runs/data_stats] [--no-docs]

Reads what `experiments/nat/run.sh` (test-set evaluations), `bench.nat_speed` (decoding speed),
`experiments/data_stats/run.sh` (complexity and faithfulness) and `bench.compression` (the PyTorch
teacher's BLEU) wrote, prints the Markdown tables, fills the `nat` and `data-stats` sections of the results
docs (docs/results.md and the notebook's pages in docs/results/passes/) and draws docs/img/nat-complexity.png.

A run missing from `--runs` (a new machine has no runs/) is read from its archive in
docs/results/logs/nat/runs/NAME (`experiments.run_records`). Archives made before test outputs were kept
hold none, so a paired test that cannot be computed is taken from docs/results/logs/nat/p_values.json, which
keeps every p-value this script computed with both sides' BLEU, and only while both are still the table's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.doc_section import RESULTS_DOCS, fill_sections
from experiments.protocol.plan import archive_dir
from experiments.protocol.table import paired_p_value
from experiments.run_records import RunRecord, load_run
from s2s.corpus import read_corpus
from s2s.shared import BIBLE, in_shared

REPO = Path(__file__).resolve().parents[2]

TEST = in_shared(BIBLE / "test.tsv")
STAGE1_RUN = REPO / "runs" / "protocol" / "stage1-nll"
LOGS = REPO / "docs" / "results" / "logs" / "nat"
SOURCES = {"raw": "references", "seq_kd": "Seq-KD (beam 5)", "seq_inter": "Seq-Inter (5-best, sentence BLEU)",
           "seq_inter_chrf": "Seq-Inter (5-best, sentence chrF)"}
ITERATIONS = (1, 4, 10)
CMLM_DECODING = "mask-predict T={t} l=5"


def load_nat_run(runs: Path, name: str, logs: Path = LOGS) -> RunRecord | None:
    """The run `name` from `runs` if it is there, else from its archive in `logs`/runs."""
    return load_run(runs / name, logs / "runs" / name)


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _speed(speeds: dict[str, Any], setting: str) -> str:
    s = speeds.get(setting)
    return "–" if s is None else f"{s['sent_s_batch32']:.1f} / {s['sent_s_batch1']:.1f}"


def students_table(records: dict[str, RunRecord], speeds: dict[str, Any], teacher_bleu: float | None) -> str:
    """BLEU on the whole test set per decoding and sentences/s (batch 32 / batch 1) of every student."""
    head = ["student", "training data", "steps (best)", "valid BLEU (step)", "train min",
            *(f"BLEU T={t}" for t in ITERATIONS), "BLEU greedy",
            *(f"sent/s T={t}" for t in ITERATIONS), "sent/s greedy"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines.append(f"| teacher (3/3) | references | – | – | – | – | – | – | {_cell(teacher_bleu)} | – | – | – "
                 f"| {_speed(speeds, 'teacher greedy')} |")
    lines.append(_stage1_row(speeds))
    for kind in ("cmlm", "ar"):
        for source, label in SOURCES.items():
            run = records.get(f"{kind}-{source}")
            if run is None:
                continue
            evals, trains = run.events("eval"), run.events("train")
            best = f"{max(evals, key=lambda r: r['valid_bleu'])['step']}" if evals else "–"
            steps = f"{trains[-1]['step'] if trains else 0} ({best})"
            if kind == "cmlm":
                bleus = [_cell(run.bleu(CMLM_DECODING.format(t=t))) for t in ITERATIONS] + ["–"]
                sp = [_speed(speeds, f"{run.name} T={t}") for t in ITERATIONS] + ["–"]
            else:
                bleus = ["–"] * 3 + [_cell(run.bleu("greedy"))]
                sp = ["–"] * 3 + [_speed(speeds, f"{run.name} greedy")]
            name = "Mask-Predict 3/1" if kind == "cmlm" else "autoregressive 3/1"
            curve = " / ".join(f"{r['valid_bleu']:.1f} ({r['step']})" for r in evals) or "–"
            lines.append(f"| {name} | {label} | {steps} | {curve} | {run.train_minutes():.0f} | {' | '.join(bleus)} "
                         f"| {' | '.join(sp)} |")
    return "\n".join(lines)


def _stage1_row(speeds: dict[str, Any]) -> str:
    """The autoregressive 3/1 student of the protocol's stage 1 (section 2): same start, recipe and
    validation set (validation every 250 steps, test after 1,000), from runs/protocol or its archive; its
    speed when `bench/nat_speed.py` timed it as `stage1-nll`."""
    run = load_run(STAGE1_RUN, archive_dir("stage1-nll"))
    valid = run.events("eval") if run else []
    if run is None or not valid or run.bleu("greedy") is None:
        return "| autoregressive 3/1 (stage 1 of section 2) | references | not found | | | | | | | | | | |"
    curve = " / ".join(f"{r['valid_bleu']:.1f} ({r['step']})" for r in valid)
    steps = valid[-1]["step"]
    return (f"| autoregressive 3/1 (stage 1 of section 2) | references | {steps} | {curve} "
            f"| {run.train_minutes():.0f} | – | – | – | {run.bleu('greedy'):.2f} (after {steps} steps) | – | – | – "
            f"| {_speed(speeds, 'stage1-nll greedy')} |")


def significance(records: dict[str, RunRecord], refs: list[str], kept: dict[str, Any]) -> str:
    """Paired bootstrap p-values (sacrebleu, 1,000 resamples) of each student on distilled data against the
    same kind of student on the references, and of Seq-Inter against Seq-KD: the CMLM at every T, the
    autoregressive student greedily. Computed p-values are added to `kept`; one that cannot be computed
    is taken from it (see the module docstring)."""
    decodings = {"cmlm": [CMLM_DECODING.format(t=t) for t in ITERATIONS], "ar": ["greedy"]}
    lines = []
    for kind, names in decodings.items():
        for source, against in (("seq_kd", "raw"), ("seq_inter", "raw"), ("seq_inter", "seq_kd")):
            run, base = records.get(f"{kind}-{source}"), records.get(f"{kind}-{against}")
            if run is None or base is None:
                continue
            for decoding in names:
                p = p_value(run, base, decoding, refs, kept)
                if p is None:
                    continue
                label = "Mask-Predict" if kind == "cmlm" else "autoregressive"
                lines.append(f"{label} on {SOURCES[source]} vs {SOURCES[against]}, {decoding}: p = {p:.3f}")
    return "; ".join(lines)


def p_value(run: RunRecord, base: RunRecord, decoding: str, refs: list[str], kept: dict[str, Any]) -> float | None:
    """The paired test of `run` against `base`: computed from both test outputs when they are on disk (and
    recorded in `kept`), else the recorded value if it was computed for the same two BLEU scores."""
    bleus = [run.bleu(decoding), base.bleu(decoding)]
    if None in bleus:
        return None
    key = f"{run.name} vs {base.name}, {decoding}"
    p = paired_p_value([run], [base], decoding, refs)
    if p is not None:
        kept[key] = {"p": p, "bleu": bleus}
        return p
    record = kept.get(key)
    return float(record["p"]) if record is not None and record["bleu"] == bleus else None


Point = tuple[str, float, float | None, float | None]  # corpus, its complexity, CMLM T=10 and AR greedy BLEU


def data_table(stats: Path, records: dict[str, RunRecord]) -> tuple[str, list[Point]]:
    """Complexity and faithfulness of every corpus beside the BLEU of the students trained on it."""
    lines = ["| corpus | C(d), nats | C(d), freq.-weighted | F(d) vs real, nats | F(d), freq.-weighted "
             "| Mask-Predict BLEU T=10 | autoregressive BLEU |", "|" + " --- |" * 7]
    points = []
    for source, label in SOURCES.items():
        path = stats / f"{source}.json"
        if not path.is_file():
            continue
        s = json.loads(path.read_text(encoding="utf-8"))
        cmlm, auto = records.get(f"cmlm-{source}"), records.get(f"ar-{source}")
        nat = cmlm.bleu(CMLM_DECODING.format(t=10)) if cmlm else None
        ar = auto.bleu("greedy") if auto else None
        f = "–" if s["faithfulness"] is None else f"{s['faithfulness']:.3f}"
        fw = "–" if s["faithfulness_weighted"] is None else f"{s['faithfulness_weighted']:.3f}"
        lines.append(f"| {label} | {s['complexity']:.3f} | {s['complexity_weighted']:.3f} | {f} | {fw} "
                     f"| {_cell(nat)} | {_cell(ar)} |")
        points.append((label, s["complexity"], nat, ar))
    return "\n".join(lines), points


def plot(points: list[Point], path: Path) -> None:
    """BLEU of the students against the complexity of their training data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for index, marker, name in ((2, "o", "Mask-Predict 3/1, T=10"), (3, "s", "autoregressive 3/1, greedy")):
        xs: list[tuple[float, float, str]] = []
        for label, complexity, *bleus in points:
            bleu = bleus[index - 2]
            if bleu is not None:
                xs.append((complexity, bleu, label))
        if not xs:
            continue
        ax.plot([x for x, _, _ in xs], [y for _, y, _ in xs], marker, label=name)
        for x, y, label in xs:
            ax.annotate(label.split(" (")[0], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("complexity C(d) of the training data, nats")
    ax.set_ylabel("BLEU, whole test set")
    ax.set_title("Students against the complexity of their training data")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "nat")
    parser.add_argument("--stats", type=Path, default=REPO / "docs" / "results" / "logs" / "data_stats")
    parser.add_argument("--speed", type=Path, default=REPO / "bench" / "results" / "nat_speed.json")
    parser.add_argument("--logs", type=Path, default=LOGS, help="committed logs of runs missing from --runs")
    parser.add_argument("--no-docs", action="store_true", help="only print the tables (and keep no p-values)")
    args = parser.parse_args()
    names = [f"{kind}-{source}" for kind in ("cmlm", "ar") for source in SOURCES]
    records = {n: r for n in names if (r := load_nat_run(args.runs, n, args.logs)) is not None}
    kept_path = args.logs / "p_values.json"
    kept = json.loads(kept_path.read_text(encoding="utf-8")) if kept_path.is_file() else {}
    speeds = json.loads(args.speed.read_text())["speeds"] if args.speed.is_file() else {}
    compression = REPO / "bench" / "results" / "compression.json"
    teacher = json.loads(compression.read_text())["pytorch_teacher"]["bleu"] if compression.is_file() else None
    students = students_table(records, speeds, teacher)
    p_values = significance(records, read_corpus(TEST).targets(), kept)
    data, points = data_table(args.stats, records)
    print(students, "\n\n" + p_values, "\n\n" + data)
    if not args.no_docs:
        kept_path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        fill_sections(RESULTS_DOCS, "nat", f"{students}\n\nPaired bootstrap: {p_values}.")
        fill_sections(RESULTS_DOCS, "data-stats", data)
        plot(points, REPO / "docs" / "img" / "nat-complexity.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
