"""The ensemble experiment's tables from its run folder (`python -m experiments.ensemble.run` writes them).

    python -m experiments.ensemble.table --out runs/ensemble

Members: each teacher alone and the ensemble, BLEU/chrF/sentences/s from one engine and one run, with the
paired test of the ensemble against each member. Students: per Seq-KD source (single teacher, ensemble) the
mean ± sd over seeds of greedy BLEU and chrF of the int8 exports and their speed against the int8 teacher,
all from one `experiments.same_engine` run; the two sources compared by sacrebleu's paired approximate
randomisation with the seeds pooled (the three seeds' outputs concatenated, references repeated), and by
the exact sign-flip test on the seed-paired BLEU differences.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from experiments.ensemble.decode import display_name
from experiments.protocol.significance import sign_flip_p
from experiments.protocol.table import mean_sd
from experiments.same_engine import paired
from s2s.corpus import read_corpus

SOURCES = ("single", "ensemble")


def members_table(record: dict[str, Any]) -> str:
    names = {Path(m).name: display_name(Path(m)) for m in record.get("models", [])}  # older records said `final`
    lines = ["| system | beam | BLEU | chrF | sent/s (PyTorch float32) |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {names.get(r['system'], r['system'])} | {r['beam']} | {r['bleu']:.2f} | {r['chrf']:.2f} | "
              f"{r['sentences_per_s']:.1f} |" for r in record["rows"] if "system" in r]
    tests = [f"{r['paired'].replace(' vs final', ' vs ' + names.get('final', 'final'))} (beam {r['beam']}): "
             f"p = {r['p']}" for r in record["rows"] if "paired" in r]
    return "\n".join(lines) + f"\n\nPaired approximate randomisation (10,000 trials): {'; '.join(tests)}.\n"


def pooled_p(hyps: dict[str, list[str]], refs: list[str], seeds: list[str]) -> float:
    """p of the ensemble students' pooled BLEU against the single-teacher students' (paired AR)."""
    pooled = {src: [h for seed in seeds for h in hyps[f"{src}-{seed}"]] for src in SOURCES}
    return float(paired(list(SOURCES), pooled, refs * len(seeds), baseline="single")["ensemble"]["p_value"])


def students_table(record: dict[str, Any], hyps: dict[str, list[str]], refs: list[str]) -> str:
    models = record["models"]
    teacher = models["teacher"]
    seeds = sorted({name.split("-", 1)[1] for name in models if name != "teacher"})
    lines = ["| Seq-KD from | BLEU greedy (int8) | chrF | % of teacher BLEU | sent/s batch 32 | speed-up |",
             "| --- | --- | --- | --- | --- | --- |",
             f"| (the teacher itself, int8) | {teacher['scores']['bleu']:.2f} | {teacher['scores']['chrf']:.2f} | "
             f"100 % | {teacher['sentences_per_s']:.1f} | 1.00× |"]
    bleus: dict[str, list[float]] = {}
    for src in SOURCES:
        rows = [models[f"{src}-{seed}"] for seed in seeds]
        bleus[src] = [r["scores"]["bleu"] for r in rows]
        speeds = [r["sentences_per_s"] for r in rows]
        share = [100 * b / teacher["scores"]["bleu"] for b in bleus[src]]
        lines.append(f"| {src} teacher, seeds {','.join(s.lstrip('s') for s in seeds)} | {mean_sd(bleus[src])} | "
                     f"{mean_sd([r['scores']['chrf'] for r in rows])} | {statistics.mean(share):.0f} % | "
                     f"{statistics.mean(speeds):.1f} | {statistics.mean(speeds) / teacher['sentences_per_s']:.2f}× |")
    diffs = [e - s for e, s in zip(bleus["ensemble"], bleus["single"], strict=True)]
    p_ar = pooled_p(hyps, refs, seeds)
    p_flip = sign_flip_p(diffs)
    loads = record["load_average_during"]
    return ("\n".join(lines) + f"\n\nEnsemble's students minus single teacher's, seed by seed: "
            f"{', '.join(f'{d:+.2f}' for d in diffs)} BLEU (sign-flip p = {p_flip}); paired approximate "
            f"randomisation with the seeds pooled: p = {p_ar:.4f}. One run of `experiments.same_engine` "
            f"({record['decoding']}, {record['threads']} threads, best of {record['rounds']} rounds, load "
            f"{min(loads):.2f}–{max(loads):.2f}, {record['when']}).\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the run folder")
    args = parser.parse_args()
    members = json.loads((args.out / "members.json").read_text(encoding="utf-8"))
    students = json.loads((args.out / "students.json").read_text(encoding="utf-8"))
    hyps = json.loads((args.out / "students.hyps.json").read_text(encoding="utf-8"))
    refs = read_corpus(Path(students["data"]), src_col="es", tgt_col="en").targets()
    print("### Teachers and their ensemble (whole test set)\n")
    print(members_table(members))
    print("### Students from each teacher's Seq-KD data\n")
    print(students_table(students, hyps, refs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
