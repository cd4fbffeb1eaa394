"""The teacher's `Generate` through PyTorch and through CTranslate2: speed and the generated data's quality.

    python -m bench.generate_engines [--sentences 500] [--beam 5] [--nbest 5]

Starts one real teacher server per engine (PyTorch; CTranslate2 int8; CTranslate2 float32), one after the
other on the same machine in one run, sends the first `--sentences` training verses through `Generate`
(beam 5, 5-best, as `kd distill-data` does) and measures sentences/s, the corpus BLEU of the best
hypothesis against the references (the Seq-KD data's quality) and how often the engines agree on it.
Writes bench/results/generate-engines.json and the table in docs/teacher.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.doc_section import fill_section
from s2s.corpus import read_corpus
from s2s.evaluation import score_corpus
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared
from s2s.tokenizer import Tokenizer
from services.teacher.launch import TeacherProcess
from teacher_client import TeacherClient

REPO = Path(__file__).resolve().parents[1]

TEACHER = in_shared(REFERENCE_TEACHER)
TRAIN = in_shared(BIBLE / "train.tsv")
ENGINES = {"pytorch": ["--generate-engine", "torch"],
           "ctranslate2-int8": ["--generate-engine", "ctranslate2", "--generate-quantization", "int8"],
           "ctranslate2-float32": ["--generate-engine", "ctranslate2", "--generate-quantization", "float32"]}


def run_engine(flags: list[str], src_ids: list[list[int]], beam: int, nbest: int, threads: int,
               tokenizer: Tokenizer) -> tuple[float, list[str]]:
    """(sentences/s, best hypotheses as text) of one teacher server with these flags."""
    server = TeacherProcess(TEACHER, [*flags, "--threads", str(threads), "--max-batch-tokens", "60000"]).start()
    try:
        with TeacherClient(server.target, timeout_s=3600) as client:
            client.generate(src_ids[:8], beam, nbest, 128)  # warm-up
            start = time.perf_counter()
            nbests = client.generate(src_ids, beam, nbest, 128)
            seconds = time.perf_counter() - start
    finally:
        server.stop()
    return len(src_ids) / seconds, [" ".join(tokenizer.decode(h[0].ids).split()) for h in nbests]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--nbest", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "generate-engines.json")
    args = parser.parse_args()
    tokenizer = Tokenizer(TEACHER)
    pairs = read_corpus(TRAIN).pairs[: args.sentences]
    src_ids = [tokenizer.encode_source(p.src, 256) for p in pairs]
    refs = [p.tgt for p in pairs]
    load = os.getloadavg()[0]
    results: dict[str, Any] = {}
    outputs: dict[str, list[str]] = {}
    for name, flags in ENGINES.items():
        speed, hyps = run_engine(flags, src_ids, args.beam, args.nbest, args.threads, tokenizer)
        outputs[name] = hyps
        results[name] = {"sentences_per_s": speed, "bleu_vs_reference": score_corpus(hyps, refs).bleu}
        print(f"{name}: {speed:.1f} sentences/s, BLEU {results[name]['bleu_vs_reference']:.2f}", flush=True)
    for name, hyps in outputs.items():
        same = sum(a == b for a, b in zip(hyps, outputs["pytorch"], strict=True))
        results[name]["same_best_as_pytorch"] = same / len(hyps)
        results[name]["speedup_vs_pytorch"] = results[name]["sentences_per_s"] / results["pytorch"]["sentences_per_s"]
    payload = {"setup": {"sentences": len(pairs), "beam": args.beam, "nbest": args.nbest, "threads": args.threads,
                         "data": str(TRAIN), "load_average_at_start": round(load, 2),
                         "date": time.strftime("%Y-%m-%d %H:%M:%S")}, "engines": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    fill_section(REPO / "docs" / "teacher.md", "generate-engines", table(payload))
    print(table(payload))
    return 0


def table(payload: dict[str, Any]) -> str:
    s = payload["setup"]
    lines = ["| Generate engine | sentences/s | speed-up | BLEU of the best hypothesis vs reference "
             "| same best hypothesis as PyTorch |", "|" + " --- |" * 5]
    for name, r in payload["engines"].items():
        lines.append(f"| {name} | {r['sentences_per_s']:.1f} | {r['speedup_vs_pytorch']:.2f}× "
                     f"| {r['bleu_vs_reference']:.2f} | {100 * r['same_best_as_pytorch']:.0f}% |")
    lines += ["", f"The first {s['sentences']} training verses, beam {s['beam']}, {s['nbest']}-best, one teacher "
              f"server per engine with {s['threads']} threads, one after the other in one run; load average "
              f"{s['load_average_at_start']} at the start; {s['date']}."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
