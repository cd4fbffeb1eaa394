"""The teacher's engines compared: PyTorch against CTranslate2 (float32 and int8) for TopK, Score and Generate,
speed and sameness of the answers, in one run.

    python -m bench.teacher_engines [--model DIR] [--sentences 200] [--generate-sentences 48] [--threads 1]
                                    [--device cpu] [--rounds 3] [--out FILE] [--update-doc docs/teacher.md]

Every engine computes the same work in this process, the way the teacher server's batcher calls it
(`s2s.teacher.compute` on a PyTorch model or on a `Ct2Scorer`; Generate through Hugging Face beam search or
`Ct2Model.nbest`). The engines take turns round by round and the median round is kept, so that load from
other programs hits every engine alike. Sameness is measured on the full distributions at every target
position of the workload: the largest |log q difference|, KL(PyTorch || engine) per position, and how often
the most likely token agrees; and KL(float32 || int8) between the two CTranslate2 exports, which is what
int8 weights cost the distillation signal.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.doc_section import publish
from s2s.checkpoint import load_checkpoint
from s2s.corpus import read_corpus
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared
from s2s.teacher import compute

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = in_shared(REFERENCE_TEACHER)
DEFAULT_DATA = in_shared(BIBLE / "valid.tsv")
QUANTIZATIONS = ("float32", "int8")


def log_probs(model: Any, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad: int,
              budget: int) -> list[np.ndarray]:
    """Full log-distributions [T, V] (float64) of every sentence, batched as TopK batches them."""
    out: list[np.ndarray] = [np.zeros(0)] * len(src)
    for batch in compute._chunks(src, tgt, budget):
        with torch.inference_mode():
            logits = compute.teacher_forced_logits(model, [src[i] for i in batch], [tgt[i] for i in batch], pad)
            logq = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()
        for row, i in enumerate(batch):
            out[i] = logq[row, : len(tgt[i])]
    return out


def agreement(ref: list[np.ndarray], other: list[np.ndarray]) -> dict[str, float]:
    """How far `other`'s distributions are from `ref`'s, over all positions."""
    kl = np.concatenate([(np.exp(a) * (a - b)).sum(-1) for a, b in zip(ref, other, strict=True)])
    return {"max_abs_logq_diff": float(max(np.abs(a - b).max() for a, b in zip(ref, other, strict=True))),
            "kl_mean": float(kl.mean()), "kl_p99": float(np.percentile(kl, 99)), "kl_max": float(kl.max()),
            "top1_agreement": float(np.mean(np.concatenate([a.argmax(-1) == b.argmax(-1)
                                                            for a, b in zip(ref, other, strict=True)])))}


def timed_median(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds of every call per round; the calls take turns within a round (after one warm-up each)."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def ct2_engines(args: argparse.Namespace, config: Any, sources: list[list[int]], folder: Path,
                notes: list[str]) -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """CTranslate2 scorers and generators of both quantizations, where CTranslate2 is installed and runs on
    the device (what is missing is said in `notes`, and the PyTorch rows are measured anyway)."""
    try:
        from s2s.ct2_runtime import Ct2Model
        from s2s.export import export_checkpoint
        from s2s.teacher.ct2_scorer import Ct2Scorer
    except ImportError as exc:
        notes.append(f"CTranslate2 not measured: {exc}")
        return {}, {}
    scorers: dict[str, Any] = {}
    generators: dict[str, Callable[[], Any]] = {}
    for q in QUANTIZATIONS:
        try:
            export_checkpoint(args.model, folder / q, quantization=q)
            scorers[f"ctranslate2-{q}"] = Ct2Scorer(folder / q, config, args.device, args.threads)
        except Exception as exc:  # noqa: BLE001 - e.g. a CTranslate2 build without this device's libraries
            notes.append(f"CTranslate2 {q} on {args.device} not measured: {type(exc).__name__}: {exc}")
            continue
        if torch.device(args.device).type == "cpu":  # (`Ct2Model` decodes on the CPU)
            generator = Ct2Model(folder / q, threads=args.threads)
            generators[f"ctranslate2-{q}"] = partial(generator.nbest, sources, args.beam, 1, args.generate_max_len)
    return scorers, generators


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ckpt = load_checkpoint(args.model, device=device)
    tok, pad = ckpt.tokenizer, ckpt.tokenizer.pad_id
    pairs = read_corpus(args.data).pairs[: args.sentences]
    src = [np.array(tok.encode_source(p.src, args.max_len)) for p in pairs]
    tgt = [np.array(tok.encode_target(p.tgt, args.max_len)) for p in pairs]
    rng = np.random.default_rng(0)
    cands = [np.concatenate([t[:, None], rng.integers(0, tok.vocab_size, (len(t), 3))], axis=1) for t in tgt]
    gen_src = [[int(x) for x in s] for s in src[: args.generate_sentences]]
    budget = compute.forward_tokens(ckpt.model, args.max_batch_tokens)
    tmp = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    notes: list[str] = []
    try:
        engines: dict[str, Any] = {"pytorch": ckpt.model}
        generators: dict[str, Callable[[], Any]] = {
            "pytorch": lambda: compute.nbest(ckpt.model, src[: args.generate_sentences], pad, args.beam, 1,
                                             args.generate_max_len, args.max_batch_tokens, tok.forced_bos_id)}
        if not args.no_ct2:
            scorers, ct2_generators = ct2_engines(args, ckpt.model.config, gen_src, tmp, notes)
            engines.update(scorers)
            generators.update(ct2_generators)
        load = round(os.getloadavg()[0], 1)
        calls: dict[str, Callable[[], Any]] = {}
        for name, model in engines.items():
            calls[f"topk/{name}"] = partial(compute.topk, model, src, tgt, args.k, pad, budget)
            calls[f"score/{name}"] = partial(compute.score, model, src, tgt, cands, pad, budget)
        calls.update({f"generate/{name}": call for name, call in generators.items()})
        times = timed_median(calls, args.rounds)
        dists = {name: log_probs(model, src, tgt, pad, budget) for name, model in engines.items()}
        tokens = sum(len(t) for t in tgt)
        rows = []
        for op in ("topk", "score", "generate"):
            base = statistics.median(times[f"{op}/pytorch"])
            for name in engines:
                if f"{op}/{name}" not in times:
                    continue
                seconds = statistics.median(times[f"{op}/{name}"])
                count = args.generate_sentences if op == "generate" else len(src)
                rows.append({"op": op, "engine": name, "seconds": round(seconds, 3),
                             "sentences_per_s": round(count / seconds, 1),
                             "target_tokens_per_s": round(tokens / seconds) if op != "generate" else None,
                             "speedup_vs_pytorch": round(base / seconds, 2),
                             "rounds_s": [round(t, 3) for t in times[f"{op}/{name}"]]})
        same = {name: agreement(dists["pytorch"], dists[name]) for name in engines if name != "pytorch"}
        if {"ctranslate2-float32", "ctranslate2-int8"} <= set(dists):
            same["int8_vs_float32"] = agreement(dists["ctranslate2-float32"], dists["ctranslate2-int8"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "device": _device_name(device), "model": args.model.name, "sentences": len(src), "target_tokens": tokens,
            "generate_sentences": len(gen_src), "beam": args.beam, "k": args.k, "threads": args.threads,
            "rounds": args.rounds, "load_average": load}
    return {"meta": meta, "rows": rows, "agreement": same, "notes": notes}


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or 'x86'})"


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [f"Measured {m['date']} on {m['machine']} ({m['device']}), `{m['model']}`: TopK (k = {m['k']}) and Score "
             f"(4 candidates) over {m['sentences']} validation verses ({m['target_tokens']} target tokens), Generate "
             f"(beam {m['beam']}) over the first {m['generate_sentences']}; {m['threads']} thread(s) per engine, "
             f"median of {m['rounds']} interleaved rounds, load average {m['load_average']} at the start "
             "(a shared machine: ratios, not absolute speeds, carry over).", "",
             "| op | engine | sentences/s | target tokens/s | speed-up vs PyTorch |",
             "| --- | --- | ---: | ---: | ---: |"]
    for r in result["rows"]:
        tokens = "" if r["target_tokens_per_s"] is None else str(r["target_tokens_per_s"])
        lines.append(f"| {r['op']} | {r['engine']} | {r['sentences_per_s']} | {tokens} | {r['speedup_vs_pytorch']}× |")
    lines += ["", "| distributions compared | max abs log q diff | KL mean (nats/token) | KL p99 | KL max "
              "| same top-1 |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    names = {"ctranslate2-float32": "PyTorch vs CTranslate2 float32", "ctranslate2-int8": "PyTorch vs CTranslate2 int8",
             "int8_vs_float32": "CTranslate2 float32 vs int8"}
    for name, a in result["agreement"].items():
        lines.append(f"| {names.get(name, name)} | {a['max_abs_logq_diff']:.2g} | {a['kl_mean']:.2g} | "
                     f"{a['kl_p99']:.2g} | {a['kl_max']:.2g} | {100 * a['top1_agreement']:.2f}% |")
    lines += [f"\n{note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--generate-sentences", type=int, default=48)
    parser.add_argument("--generate-max-len", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=64, help="truncate sentences to this many tokens")
    parser.add_argument("--max-batch-tokens", type=int, default=8192)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-ct2", action="store_true", help="measure PyTorch only")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "teacher-engines.json")
    parser.add_argument("--update-doc", type=Path, default=None, help="rewrite the results table in this file")
    args = parser.parse_args(argv)
    result = run(args)
    publish(result, args.out, markdown(result), args.update_doc, "teacher-engines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
