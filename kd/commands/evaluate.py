"""`kd evaluate` and `kd translate`: quality, speed and ad-hoc translation through the PyTorch model."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from kd.args import add_corpus_args, add_language_args, languages_from_args, load_corpus
from s2s.checkpoint import load_checkpoint
from s2s.cmlm import CMLMModel, is_cmlm_config
from s2s.ct2_runtime import Ct2Model, is_export
from s2s.decoding import translate
from s2s.errors import KDError
from s2s.evaluation import EvalResult, evaluate_decoding, evaluate_export
from s2s.export import QUANTIZATIONS, export_checkpoint
from s2s.mask_predict import translate_cmlm


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd evaluate` and `kd translate`."""
    ev = sub.add_parser("evaluate", help="BLEU, chrF and speed of a model on a test set, greedy and beam")
    ev.add_argument("--model", type=Path, required=True,
                    help="checkpoint, export, or Hugging Face folder of a supported family (docs/own-teacher.md)")
    add_corpus_args(ev)
    add_language_args(ev)
    ev.add_argument("--beams", default="1,5", help="comma-separated beam sizes (1 = greedy); default 1,5")
    ev.add_argument("--out", type=Path, default=None, help="folder for results.json and hypotheses")
    ev.add_argument("--max-tokens", type=int, default=4096, help="source tokens per decoding batch")
    ev.add_argument("--max-len", type=int, default=256, help="longest output in tokens (default 256)")
    ev.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    ev.add_argument("--engine", choices=("torch", "ctranslate2"), default="torch",
                    help="decode with the PyTorch model (default) or a CTranslate2 export of it")
    ev.add_argument("--quantization", choices=QUANTIZATIONS, default="float32",
                    help="weights of the CTranslate2 export made for --engine ctranslate2 (default float32, which "
                         "decodes greedy exactly like PyTorch); ignored when --model is already an export")
    ev.add_argument("--batch-size", type=int, default=32, help="sentences per CTranslate2 call (default 32)")
    ev.add_argument("--iterations", default="10", help="Mask-Predict students: comma-separated iteration counts T "
                                                       "(one decoding each, e.g. 1,4,10; default 10)")
    ev.add_argument("--length-beam", type=int, default=5, help="Mask-Predict students: length candidates (default 5)")
    ev.set_defaults(func=run_evaluate)
    tr = sub.add_parser("translate", help="translate text given as arguments or on standard input")
    tr.add_argument("--model", type=Path, required=True,
                    help="checkpoint, or Hugging Face folder of a supported family (docs/own-teacher.md)")
    add_language_args(tr)
    tr.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    tr.add_argument("--iterations", type=int, default=10, help="Mask-Predict students: iterations T (default 10)")
    tr.add_argument("--length-beam", type=int, default=5, help="Mask-Predict students: length candidates (default 5)")
    tr.add_argument("text", nargs="*", help="sentences; read from standard input when none")
    tr.set_defaults(func=run_translate)


def _positive_ints(spec: str) -> list[int]:
    """The comma-separated positive integers of `spec`, or [] when it is anything else."""
    try:
        values = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        return []
    return values if values and all(v >= 1 for v in values) else []


def _parse_beams(spec: str) -> list[int]:
    beams = _positive_ints(spec)
    if not beams:
        raise SystemExit(f"kd evaluate: --beams must be positive integers like 1,5; got {spec!r}")
    return beams


def run_evaluate(args: argparse.Namespace) -> int:
    beams = _parse_beams(args.beams)
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = load_corpus(args)
    with _decoder(args) as (model_id, parameters, decode, settings):
        results: list[EvalResult] = []
        for setting in settings or beams:
            result, hyps = decode(corpus.sources(), corpus.targets(), setting)
            results.append(result)
            _write_hypotheses(args.out, result, hyps)
    _print_table(model_id, results)
    if args.out:
        payload = {"model": str(args.model), "model_id": model_id, "data": str(args.data), "engine": args.engine,
                   "parameters": parameters, "results": [r.to_dict() for r in results]}
        if args.engine == "ctranslate2":
            payload["quantization"] = args.quantization
        (args.out / "results.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print(f"results written to {args.out / 'results.json'}")
    return 0


Decode = Callable[[Sequence[str], Sequence[str], int], tuple[EvalResult, list[str]]]


@contextlib.contextmanager
def _decoder(args: argparse.Namespace) -> Iterator[tuple[str, int, Decode, list[int] | None]]:
    """(model id, parameters, decode function, its settings: None = the beams, else the CMLM's iteration
    counts) for the chosen engine; a temporary export is removed after."""
    languages = languages_from_args(args, args.src, args.tgt)
    if args.engine == "torch":
        ckpt = load_checkpoint(args.model, languages=languages)
        if isinstance(ckpt.model, CMLMModel):
            yield ckpt.manifest.model_id, ckpt.manifest.parameters, lambda s, r, t: evaluate_decoding(
                ckpt.model, ckpt.tokenizer, s, r, 1, max_len=args.max_len, max_tokens=args.max_tokens,
                iterations=t, length_beam=args.length_beam), _parse_iterations(args.iterations)
            return
        yield ckpt.manifest.model_id, ckpt.manifest.parameters, lambda s, r, b: evaluate_decoding(
            ckpt.model, ckpt.tokenizer, s, r, b, max_len=args.max_len, max_tokens=args.max_tokens), None
        return
    if (Path(args.model) / "config.json").is_file() and is_cmlm_config(
            json.loads((Path(args.model) / "config.json").read_text(encoding="utf-8"))):
        raise KDError(f"{args.model} is a Mask-Predict student: CTranslate2 cannot run it; use --engine torch")
    with tempfile.TemporaryDirectory(prefix="kd-eval-ct2-") as tmp:
        folder = args.model
        if not is_export(folder):
            folder = Path(tmp) / "export"
            export_checkpoint(args.model, folder, quantization=args.quantization, languages=languages)
        model = Ct2Model(folder, threads=args.threads or 0)
        yield model.manifest.model_id, model.manifest.parameters, lambda s, r, b: evaluate_export(
            model, s, r, b, max_len=args.max_len, max_batch_size=args.batch_size), None


def _parse_iterations(spec: str) -> list[int]:
    values = _positive_ints(spec)
    if not values:
        raise KDError(f"--iterations must be positive integers like 1,4,10; got {spec!r}")
    return values


def _write_hypotheses(out: Path | None, result: EvalResult, hyps: list[str]) -> None:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"hyp.{result.decoding}.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")


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
    ckpt = load_checkpoint(args.model, languages=languages_from_args(args))
    if isinstance(ckpt.model, CMLMModel):
        outputs = translate_cmlm(ckpt.model, ckpt.tokenizer, texts, args.iterations, args.length_beam)
    else:
        outputs = translate(ckpt.model, ckpt.tokenizer, texts, beam_size=args.beam)
    for out in outputs:
        print(out)
    return 0
