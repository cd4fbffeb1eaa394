"""Print the docs/results-2026-11-22.md table from the runs of experiments/results/run.sh (results.json + manifests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROWS = [("nll", "NLL baseline"), ("word_kd", "Word-KD (α=0.5, k=8)"), ("ka", "KA (λ=0.5, k'=8)"),
        ("jsd", "½KA+½KD (α=0.5)"), ("seq_kd", "Seq-KD (beam 5)"), ("seq_inter", "Seq-Inter (5-best, sentence BLEU)"),
        ("seq_kd_word_kd", "Seq-KD + Word-KD")]


def _train_minutes(path: Path) -> float:
    """Wall time from the first to the last event of a run's metrics.jsonl."""
    times = [json.loads(line)["time"] for line in path.read_text().splitlines() if '"time"' in line]
    return (max(times) - min(times)) / 60 if times else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, default=Path("runs/results"))
    parser.add_argument("--steps", type=int, required=True)
    args = parser.parse_args()
    print("| method | steps | BLEU greedy | BLEU beam 5 | chrF greedy | valid BLEU (400) | train minutes | log |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label in ROWS:
        results = args.runs / name / "eval" / "results.json"
        if not results.is_file():
            print(f"| {label} | {args.steps} | not run | | | | | |")
            continue
        data = json.loads(results.read_text())
        by = {r["decoding"]: r for r in data["results"]}
        metrics = json.loads((args.runs / name / "final" / "manifest.json").read_text()).get("metrics", {})
        minutes = _train_minutes(args.runs / name / "metrics.jsonl")
        beam = f"{by['beam5']['scores']['bleu']:.2f}" if "beam5" in by else "not run"
        print(f"| {label} | {metrics.get('steps', args.steps)} | {by['greedy']['scores']['bleu']:.2f} "
              f"| {beam} | {by['greedy']['scores']['chrf']:.2f} | {metrics.get('valid_bleu', 0):.2f} | {minutes:.1f} "
              f"| [train](results/logs/train-{name}.log), [eval](results/logs/eval-{name}.log) |")


if __name__ == "__main__":
    main()
