"""Several CTranslate2 exports on one test set in one run: BLEU, chrF, sentences/s and a paired test.

    python -m experiments.same_engine --data DIR/test.tsv --src es --tgt en \
        --model teacher=runs/up-ref/.../teacher-int8 --model shared=... --model own=... \
        --out docs/results/logs/own-teacher/ref-own-vocab.json

Answers "which student is better, and how much faster than the teacher" with one engine (CTranslate2 int8
exports, as the gateway serves them), greedy, batch 32, at most 160 tokens (as `kd up` evaluates), `--threads`
threads, the whole test set. Speeds are taken in `--rounds` rounds that visit the models in turn (best round
kept, after a warm-up batch each), so that a burst of load on the machine cannot favour one model; the load
average is recorded with them. BLEU is deterministic across rounds. Each model after the first is compared
with the first by sacrebleu's paired approximate randomisation (10,000 trials), and with the second (the
baseline student) when there are three.
(Two identical systems get p = 1/10,001: sacrebleu counts only strictly larger shuffled differences.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from s2s.corpus import read_corpus
from s2s.ct2_runtime import Ct2Model
from s2s.evaluation import evaluate_export


def _named(spec: str) -> tuple[str, Path]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"--model wants NAME=EXPORT_FOLDER with an existing folder, got {spec!r}")
    return name, Path(path)


def paired(names: list[str], hyps: dict[str, list[str]], refs: list[str], baseline: str) -> dict[str, Any]:
    """p-values of each other system's BLEU against `baseline`'s (paired approximate randomisation)."""
    others: list[tuple[str, Sequence[str]]] = [(n, hyps[n]) for n in names if n != baseline]
    systems: list[tuple[str, Sequence[str]]] = [(baseline, hyps[baseline]), *others]
    test = PairedTest(systems, {"BLEU": BLEU(references=[refs])}, references=None, test_type="ar",
                      n_samples=10000)
    _, scores = test()
    out: dict[str, Any] = {}
    for name, result in zip(scores["System"], scores["BLEU"], strict=True):
        clean = str(name).replace("Baseline: ", "")
        if clean != baseline:
            out[clean] = {"bleu": result.score, "p_value": result.p_value}  # type: ignore[union-attr]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="test TSV with a header row")
    parser.add_argument("--src", required=True, help="source column")
    parser.add_argument("--tgt", required=True, help="target column")
    parser.add_argument("--model", type=_named, action="append", required=True, help="NAME=EXPORT_FOLDER")
    parser.add_argument("--rounds", type=int, default=2, help="speed rounds over all models (best kept)")
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 intra threads")
    parser.add_argument("--max-len", type=int, default=160, help="longest output in tokens, as kd up evaluates")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    parser.add_argument("--keep-hyps", action="store_true",
                        help="also write every model's translations to OUT with suffix .hyps.json (for pooled tests)")
    args = parser.parse_args(argv)

    corpus = read_corpus(args.data, src_col=args.src, tgt_col=args.tgt)
    sources, refs = corpus.sources(), corpus.targets()
    models = {name: Ct2Model(path, threads=args.threads) for name, path in args.model}
    rows: dict[str, dict[str, Any]] = {}
    hyps: dict[str, list[str]] = {}
    loads: list[float] = []
    for model in models.values():  # warm-up: the first call of a translator pays for allocations
        model.translate(sources[:64], beam_size=1, max_len=256, max_batch_size=32)
    for rnd in range(args.rounds):
        for name, model in models.items():
            loads.append(os.getloadavg()[0])
            result, texts = evaluate_export(model, sources, refs, beam_size=1, max_len=args.max_len,
                                            max_batch_size=32)
            hyps[name] = texts
            best = rows.get(name)
            if best is None or result.sentences_per_s > best["sentences_per_s"]:
                rows[name] = {**result.to_dict(), "export": str(args.model[list(models).index(name)][1])}
            print(f"round {rnd + 1}/{args.rounds} {name}: BLEU {result.scores.bleu:.2f} "
                  f"{result.sentences_per_s:.1f} sent/s (load {loads[-1]:.2f})", flush=True)
    names = list(models)
    first = names[0]
    for name in names:
        rows[name]["speed_vs_first"] = rows[name]["sentences_per_s"] / rows[first]["sentences_per_s"]
        rows[name]["bleu_share_of_first"] = rows[name]["scores"]["bleu"] / rows[first]["scores"]["bleu"]
    tests = {f"vs {first}": paired(names, hyps, refs, first)}
    if len(names) >= 3:
        tests[f"vs {names[1]}"] = paired(names[1:], hyps, refs, names[1])
    record = {"data": str(args.data), "sentences": len(sources), "threads": args.threads, "rounds": args.rounds,
              "decoding": f"greedy, CTranslate2, batch 32, max_len {args.max_len}",
              "load_average_during": [round(x, 2) for x in loads],
              "cpu": platform.processor() or platform.machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "models": rows, "paired_ar": tests}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    if args.keep_hyps:
        args.out.with_suffix(".hyps.json").write_text(json.dumps(hyps, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in names:
        r = rows[name]
        print(f"{name:>10}  BLEU {r['scores']['bleu']:6.2f}  chrF {r['scores']['chrf']:6.2f}  "
              f"{r['sentences_per_s']:7.1f} sent/s  {r['speed_vs_first']:.2f}x  "
              f"{100 * r['bleu_share_of_first']:.1f}% BLEU")
    print(json.dumps(tests, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
