"""`kd evaluate` and `kd translate`: quality, speed and ad-hoc translation through the PyTorch model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from kd.args import add_corpus_args, load_corpus
from s2s.checkpoint import load_checkpoint
from s2s.decoding import translate
from s2s.evaluation import EvalResult, evaluate_decoding


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd evaluate` and `kd translate`."""
    ev = sub.add_parser("evaluate", help="BLEU, chrF and speed of a model on a test set, greedy and beam")
    ev.add_argument("--model", type=Path, required=True, help="checkpoint or Hugging Face Marian folder")
    add_corpus_args(ev)
    ev.add_argument("--beams", default="1,5", help="comma-separated beam sizes (1 = greedy); default 1,5")
    ev.add_argument("--out", type=Path, default=None, help="folder for results.json and hypotheses")
    ev.add_argument("--max-tokens", type=int, default=4096, help="source tokens per decoding batch")
    ev.add_argument("--max-len", type=int, default=256, help="longest output in tokens (default 256)")
    ev.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    ev.set_defaults(func=run_evaluate)
    tr = sub.add_parser("translate", help="translate text given as arguments or on standard input")
    tr.add_argument("--model", type=Path, required=True, help="checkpoint or Hugging Face Marian folder")
    tr.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    tr.add_argument("text", nargs="*", help="sentences; read from standard input when none")
    tr.set_defaults(func=run_translate)


def _parse_beams(spec: str) -> list[int]:
    try:
        beams = [int(b) for b in spec.split(",") if b.strip()]
    except ValueError:
        beams = []
    if not beams or any(b < 1 for b in beams):
        raise SystemExit(f"kd evaluate: --beams must be positive integers like 1,5; got {spec!r}")
    return beams


def run_evaluate(args: argparse.Namespace) -> int:
    beams = _parse_beams(args.beams)
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.model)
    corpus = load_corpus(args)
    results: list[EvalResult] = []
    for beam in beams:
        result, hyps = evaluate_decoding(ckpt.model, ckpt.tokenizer, corpus.sources(), corpus.targets(), beam,
                                         max_len=args.max_len, max_tokens=args.max_tokens)
        results.append(result)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"hyp.{result.decoding}.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    _print_table(ckpt.manifest.model_id, results)
    if args.out:
        payload = {"model": str(args.model), "model_id": ckpt.manifest.model_id, "data": str(args.data),
                   "parameters": ckpt.manifest.parameters, "results": [r.to_dict() for r in results]}
        (args.out / "results.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print(f"results written to {args.out / 'results.json'}")
    return 0


def _print_table(model_id: str, results: list[EvalResult]) -> None:
    print(f"\n{model_id}: {results[0].sentences} sentences")
    print("| decoding | BLEU | chrF | sentences/s | tokens/s |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r.decoding} | {r.scores.bleu:.2f} | {r.scores.chrf:.2f} | {r.sentences_per_s:.1f} "
              f"| {r.tokens_per_s:.0f} |")
    print(f"BLEU: {results[0].scores.bleu_signature}\nchrF: {results[0].scores.chrf_signature}")


def run_translate(args: argparse.Namespace) -> int:
    texts = args.text or [line.strip() for line in sys.stdin if line.strip()]
    if not texts:
        raise SystemExit("kd translate: no text given (pass sentences as arguments or on standard input)")
    ckpt = load_checkpoint(args.model)
    for out in translate(ckpt.model, ckpt.tokenizer, texts, beam_size=args.beam):
        print(out)
    return 0
