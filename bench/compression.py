"""Compression, measured: every student and the teacher in one engine (CTranslate2 int8), in one run.

    python -m bench.compression --model stage1-nll=runs/protocol/stage1-nll/final \\
        --model up=runs/up/checkpoints/student/final [--vmap up=runs/up/vmap.txt] [--rounds 2]

For the teacher (always included) and each `--model`: parameters, size on disk of the int8 export, greedy
BLEU and chrF on the whole Bible test set, and sentences/s through CTranslate2 int8 at batch 32 (the
whole test set in batches of 32) and at batch 1 (the first `--batch1-sentences` verses one at a time),
best of `--rounds` alternating rounds so that every model sees the same machine state. `--vmap NAME=FILE`
adds a row for model NAME exported with that lexical shortlist. The PyTorch teacher (float32, batches of
about 32 sentences) is a separate line. Writes bench/results/compression.json, the table in the results
docs (the summary docs/results.md and its notebook page docs/results/passes/compression.md) and
docs/img/compression-pareto.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.doc_section import RESULTS_DOCS, fill_sections
from s2s.checkpoint import load_checkpoint
from s2s.corpus import read_corpus
from s2s.ct2_runtime import Ct2Model
from s2s.evaluation import evaluate_decoding, score_corpus
from s2s.export import export_checkpoint
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared

REPO = Path(__file__).resolve().parents[1]

TEACHER = in_shared(REFERENCE_TEACHER)
TEST = in_shared(BIBLE / "test.tsv")
MAX_LEN = 160


@dataclass
class Entry:
    """One row: a checkpoint, its int8 export (with or without a shortlist) and what was measured."""

    name: str
    checkpoint: Path
    export: Path
    vmap: Path | None = None
    result: dict[str, Any] | None = None


def _pairs(specs: list[str], flag: str) -> dict[str, Path]:
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).exists():
            raise SystemExit(f"{flag} {spec!r}: expected NAME=PATH with an existing PATH")
        out[name] = Path(path)
    return out


def measure(entry: Entry, sources: list[str], refs: list[str], batch1: int, threads: int) -> dict[str, Any]:
    """Quality and both speeds of one export (one round)."""
    model = Ct2Model(entry.export, threads=threads)
    start = time.perf_counter()
    hyps = model.translate(sources, max_len=MAX_LEN, max_batch_size=32)
    batch32 = len(sources) / (time.perf_counter() - start)
    start = time.perf_counter()
    for text in sources[:batch1]:
        model.translate([text], max_len=MAX_LEN, max_batch_size=1)
    single = batch1 / (time.perf_counter() - start)
    scores = score_corpus(hyps, refs)
    return {"bleu": scores.bleu, "chrf": scores.chrf, "sent_s_batch32": batch32, "sent_s_batch1": single,
            "parameters": model.manifest.parameters, "size_bytes": model.info.size_bytes,
            "vmap": entry.vmap is not None, "translator_load_ms": _load_ms(model)}


def _load_ms(model: Ct2Model, times: int = 5) -> float:
    """Milliseconds to open a translator on the export: what a shortlisted export pays per batch."""
    start = time.perf_counter()
    for _ in range(times):
        model.new_translator()
    return 1000 * (time.perf_counter() - start) / times


def pytorch_teacher(sources: list[str], refs: list[str], threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    ckpt = load_checkpoint(TEACHER)
    result, _ = evaluate_decoding(ckpt.model, ckpt.tokenizer, sources, refs, 1, max_len=MAX_LEN, max_tokens=1300,
                                  progress=False)
    return {"bleu": result.scores.bleu, "chrf": result.scores.chrf, "sent_s_batch32": result.sentences_per_s,
            "parameters": ckpt.manifest.parameters}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="NAME=CHECKPOINT (repeatable)")
    parser.add_argument("--vmap", action="append", default=[], help="NAME=VMAP_FILE: also the shortlisted export")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch1-sentences", type=int, default=300)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "compression.json")
    parser.add_argument("--no-docs", action="store_true", help="only write the JSON")
    args = parser.parse_args()
    checkpoints = {"teacher": TEACHER, **_pairs(args.model, "--model")}
    vmaps = _pairs(args.vmap, "--vmap")
    corpus = read_corpus(TEST)
    sources, refs = corpus.sources(), corpus.targets()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kd-bench-compression-") as tmp:
        entries = [Entry(n, c, Path(tmp) / n) for n, c in checkpoints.items()]
        entries += [Entry(f"{n}+shortlist", checkpoints[n], Path(tmp) / f"{n}-vmap", v) for n, v in vmaps.items()]
        for e in entries:
            print(f"exporting {e.name} (int8{', shortlist' if e.vmap else ''}) ...", flush=True)
            export_checkpoint(e.checkpoint, e.export, "int8", vmap=e.vmap)
        for round_ in range(args.rounds):
            for e in entries:
                r = measure(e, sources, refs, args.batch1_sentences, args.threads)
                best = e.result or r
                e.result = {**r, "sent_s_batch32": max(r["sent_s_batch32"], best["sent_s_batch32"]),
                            "sent_s_batch1": max(r["sent_s_batch1"], best["sent_s_batch1"])}
                print(f"round {round_ + 1} {e.name}: BLEU {r['bleu']:.2f}, {r['sent_s_batch32']:.1f} sent/s "
                      f"(batch 32), {r['sent_s_batch1']:.1f} (batch 1)", flush=True)
    print("PyTorch teacher ...", flush=True)
    results = {"setup": {"test_set": str(TEST), "sentences": len(sources), "threads": args.threads,
                         "rounds": args.rounds, "batch1_sentences": args.batch1_sentences, "max_len": MAX_LEN,
                         "cpu_count": os.cpu_count(), "machine": platform.machine(),
                         "load_average_at_start": round(load, 2), "date": time.strftime("%Y-%m-%d %H:%M:%S")},
               "models": {e.name: {**(e.result or {}), "checkpoint": str(e.checkpoint)} for e in entries},
               "pytorch_teacher": pytorch_teacher(sources, refs, args.threads)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_docs:
        fill_sections(RESULTS_DOCS, "compression", table(results))
        plot(results, REPO / "docs" / "img" / "compression-pareto.png")
    print(table(results))
    return 0


def table(results: dict[str, Any]) -> str:
    """The Markdown table: every model against the int8 teacher of the same run."""
    t = results["models"]["teacher"]
    lines = ["| model | parameters | int8 size | BLEU greedy | chrF | % of teacher BLEU | sent/s batch 32 "
             "| speed-up | sent/s batch 1 | speed-up |", "|" + " --- |" * 10]
    for name, m in results["models"].items():
        lines.append(f"| {name} | {m['parameters'] / 1e6:.2f} M | {m['size_bytes'] / 1e6:.1f} MB | {m['bleu']:.2f} "
                     f"| {m['chrf']:.2f} | {100 * m['bleu'] / t['bleu']:.0f}% | {m['sent_s_batch32']:.0f} "
                     f"| {m['sent_s_batch32'] / t['sent_s_batch32']:.2f}× | {m['sent_s_batch1']:.1f} "
                     f"| {m['sent_s_batch1'] / t['sent_s_batch1']:.2f}× |")
    p, s = results["pytorch_teacher"], results["setup"]
    lines += ["", f"PyTorch teacher (float32, same machine and run, batches of about 32 sentences): BLEU "
              f"{p['bleu']:.2f}, {p['sent_s_batch32']:.1f} sentences/s. Whole test set ({s['sentences']} verses), "
              f"greedy, at most {s['max_len']} tokens; CTranslate2 int8 with {s['threads']} threads, best of "
              f"{s['rounds']} alternating rounds (batch 1: the first {s['batch1_sentences']} verses one at a time); "
              f"load average {s['load_average_at_start']} at the start; {s['date']}."]
    shortlisted = [(n, m) for n, m in results["models"].items() if m.get("vmap")]
    if shortlisted:
        loads = ", ".join(f"{m['translator_load_ms']:.0f} ms for {n}" for n, m in shortlisted)
        lines += ["", "Shortlisted rows open a fresh translator for every batch (CTranslate2 4.8.5 restricts the "
                  "output layer on a translator's first shortlisted batch only, see `s2s/export.py`); their "
                  f"speeds include that load ({loads})."]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """BLEU against sentences/s (batch 32 and batch 1), one point per model: the Pareto front at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, label in ((axes[0], "sent_s_batch32", "batch 32"), (axes[1], "sent_s_batch1", "batch 1")):
        for name, m in results["models"].items():
            ax.scatter(m[key], m["bleu"], s=50, marker="s" if name == "teacher" else "o")
            ax.annotate(name, (m[key], m["bleu"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel(f"sentences / s, CTranslate2 int8, {label}")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("BLEU, greedy, whole test set")
    fig.suptitle("Students against the teacher, one engine, one run")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
