"""Tables and plot of the Mask-Predict experiment: students' BLEU and speed, and the data they learnt from.

    python experiments/nat/table.py [--runs runs/nat] [--stats runs/data_stats] [--no-docs]

Reads what `experiments/nat/run.sh` (test-set evaluations), `bench/nat_speed.py` (decoding speed),
`experiments/data_stats/run.sh` (complexity and faithfulness) and `bench/compression.py` (the PyTorch
teacher's BLEU) wrote, prints the Markdown tables, fills the `nat` and `data-stats` sections of
docs/results.md and draws docs/img/nat-complexity.png.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.doc_section import fill_section  # noqa: E402
from experiments.protocol.table import eval_results, events, paired_p_value, train_minutes  # noqa: E402
from s2s.corpus import read_corpus  # noqa: E402

TEST = REPO.parent / "shared" / "data" / "bible-es-en" / "test.tsv"
STAGE1_LOGS = REPO / "docs" / "results" / "logs" / "protocol"
SOURCES = {"raw": "references", "seq_kd": "Seq-KD (beam 5)", "seq_inter": "Seq-Inter (5-best, sentence BLEU)",
           "seq_inter_chrf": "Seq-Inter (5-best, sentence chrF)"}
ITERATIONS = (1, 4, 10)
CMLM_DECODING = "mask-predict T={t} l=5"


def _bleu(run: Path, decoding: str) -> float | None:
    scores = eval_results(run) or {}
    return scores[decoding]["scores"]["bleu"] if decoding in scores else None


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _speed(speeds: dict[str, Any], setting: str) -> str:
    s = speeds.get(setting)
    return "–" if s is None else f"{s['sent_s_batch32']:.1f} / {s['sent_s_batch1']:.1f}"


def students_table(runs: Path, speeds: dict[str, Any], teacher_bleu: float | None) -> str:
    """BLEU on the whole test set per decoding and sentences/s (batch 32 / batch 1) of every student."""
    head = ["student", "training data", "steps (best)", "valid BLEU (step)", "train min",
            *(f"BLEU T={t}" for t in ITERATIONS), "BLEU greedy",
            *(f"sent/s T={t}" for t in ITERATIONS), "sent/s greedy"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines.append(f"| teacher (3/3) | references | – | – | – | – | – | – | {_cell(teacher_bleu)} | – | – | – "
                 f"| {_speed(speeds, 'teacher greedy')} |")
    lines.append(_stage1_row())
    for kind in ("cmlm", "ar"):
        for source, label in SOURCES.items():
            run = runs / f"{kind}-{source}"
            if not (run / "metrics.jsonl").is_file():
                continue
            evals = events(run, "eval")
            best = f"{max(evals, key=lambda r: r['valid_bleu'])['step']}" if evals else "–"
            steps = f"{events(run, 'train')[-1]['step'] if events(run, 'train') else 0} ({best})"
            if kind == "cmlm":
                bleus = [_cell(_bleu(run, CMLM_DECODING.format(t=t))) for t in ITERATIONS] + ["–"]
                sp = [_speed(speeds, f"{run.name} T={t}") for t in ITERATIONS] + ["–"]
            else:
                bleus = ["–"] * 3 + [_cell(_bleu(run, "greedy"))]
                sp = ["–"] * 3 + [_speed(speeds, f"{run.name} greedy")]
            name = "Mask-Predict 3/1" if kind == "cmlm" else "autoregressive 3/1"
            curve = " / ".join(f"{r['valid_bleu']:.1f} ({r['step']})" for r in evals) or "–"
            lines.append(f"| {name} | {label} | {steps} | {curve} | {train_minutes(run):.0f} | {' | '.join(bleus)} "
                         f"| {' | '.join(sp)} |")
    return "\n".join(lines)


def _stage1_row() -> str:
    """The autoregressive 3/1 student of the protocol's stage 1 (section 2): same start, recipe and
    validation set, read from its committed logs (validation at every 250 steps, test after 1,000)."""
    train, test = (STAGE1_LOGS / f"{kind}-protocol-stage1-nll.log" for kind in ("train", "eval"))
    if not train.is_file() or not test.is_file():
        return "| autoregressive 3/1 | references | not found | | | | | | | | | | |"
    valid = re.findall(r"eval: step=(\d+), valid_nll=[\d.]+, valid_bleu=([\d.]+)", train.read_text())
    curve = " / ".join(f"{float(b):.1f} ({s})" for s, b in valid)
    greedy = re.search(r"^\| greedy \| ([\d.]+) \|", test.read_text(), re.MULTILINE)
    return (f"| autoregressive 3/1 (stage 1 of section 2) | references | {valid[-1][0]} | {curve} | – | – | – | – "
            f"| {greedy.group(1) if greedy else '–'} (after {valid[-1][0]} steps) | – | – | – | – |")


def significance(runs: Path, refs: list[str]) -> str:
    """Paired bootstrap p-values (sacrebleu, 1,000 resamples) of each student on distilled data against the
    same kind of student on the references, and of Seq-Inter against Seq-KD: the CMLM at every T, the
    autoregressive student greedily."""
    decodings = {"cmlm": [CMLM_DECODING.format(t=t) for t in ITERATIONS], "ar": ["greedy"]}
    lines = []
    for kind, names in decodings.items():
        for source, against in (("seq_kd", "raw"), ("seq_inter", "raw"), ("seq_inter", "seq_kd")):
            run, base = runs / f"{kind}-{source}", runs / f"{kind}-{against}"
            for decoding in names:
                if _bleu(run, decoding) is None or _bleu(base, decoding) is None:
                    continue
                p = paired_p_value([run], [base], decoding, refs)
                label = "Mask-Predict" if kind == "cmlm" else "autoregressive"
                lines.append(f"{label} on {SOURCES[source]} vs {SOURCES[against]}, {decoding}: p = {p:.3f}")
    return "; ".join(lines)


def data_table(stats: Path, runs: Path) -> tuple[str, list[tuple[str, float, float | None, float | None]]]:
    """Complexity and faithfulness of every corpus beside the BLEU of the students trained on it."""
    lines = ["| corpus | C(d), nats | C(d), freq.-weighted | F(d) vs real, nats | F(d), freq.-weighted "
             "| Mask-Predict BLEU T=10 | autoregressive BLEU |", "|" + " --- |" * 7]
    points = []
    for source, label in SOURCES.items():
        path = stats / f"{source}.json"
        if not path.is_file():
            continue
        s = json.loads(path.read_text(encoding="utf-8"))
        nat = _bleu(runs / f"cmlm-{source}", CMLM_DECODING.format(t=10))
        ar = _bleu(runs / f"ar-{source}", "greedy")
        f = "–" if s["faithfulness"] is None else f"{s['faithfulness']:.3f}"
        fw = "–" if s["faithfulness_weighted"] is None else f"{s['faithfulness_weighted']:.3f}"
        lines.append(f"| {label} | {s['complexity']:.3f} | {s['complexity_weighted']:.3f} | {f} | {fw} "
                     f"| {_cell(nat)} | {_cell(ar)} |")
        points.append((label, s["complexity"], nat, ar))
    return "\n".join(lines), points


def plot(points: list[tuple[str, float, float | None, float | None]], path: Path) -> None:
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
    parser.add_argument("--no-docs", action="store_true", help="only print the tables")
    args = parser.parse_args()
    speeds = json.loads(args.speed.read_text())["speeds"] if args.speed.is_file() else {}
    compression = REPO / "bench" / "results" / "compression.json"
    teacher = json.loads(compression.read_text())["pytorch_teacher"]["bleu"] if compression.is_file() else None
    students = students_table(args.runs, speeds, teacher)
    p_values = significance(args.runs, read_corpus(TEST).targets())
    data, points = data_table(args.stats, args.runs)
    print(students, "\n\n" + p_values, "\n\n" + data)
    if not args.no_docs:
        fill_section(REPO / "docs" / "results.md", "nat", f"{students}\n\nPaired bootstrap: {p_values}.")
        fill_section(REPO / "docs" / "results.md", "data-stats", data)
        plot(points, REPO / "docs" / "img" / "nat-complexity.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
