"""Decoding speed of Mask-Predict against autoregressive students and the teacher, in one engine and one run.

    python -m bench.nat_speed --model cmlm=runs/nat/cmlm-seq_kd/final --model ar=runs/nat/ar-raw/final \\
        [--iterations 1,4,10] [--sentences 300] [--rounds 2] [--threads 2]

Every model is decoded with PyTorch (float32; CTranslate2 cannot run a CMLM), on the first `--sentences`
verses of the Bible test set, at batch 32 and at batch 1 (sentences one at a time); best of `--rounds`
alternating rounds so that every model sees the same machine state. A CMLM is timed once per iteration count T
with 5 length candidates; an autoregressive model (and the teacher, always included) greedily. Writes
bench/results/nat_speed.json; `python -m experiments.nat.table` puts it into the results docs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.compression import MAX_LEN, TEACHER, TEST
from s2s.checkpoint import load_checkpoint
from s2s.cmlm import CMLMModel
from s2s.corpus import read_corpus
from s2s.decoding import generate_nbest
from s2s.mask_predict import mask_predict

REPO = Path(__file__).resolve().parents[1]

LENGTH_BEAM = 5
UNBOUNDED = 10**9  # a token budget no batch reaches: the batch is the chunk of sentences we pass

Decoder = Callable[[Sequence[Sequence[int]]], object]


def decoders(name: str, path: Path, iterations: list[int]) -> tuple[dict[str, Decoder], Any]:
    """One decoding function per setting of a checkpoint (T for a CMLM, greedy otherwise), and its tokenizer."""
    ckpt = load_checkpoint(path)
    model, pad = ckpt.model.eval(), ckpt.tokenizer.pad_id
    if isinstance(model, CMLMModel):
        cmlm, cap = model, min(MAX_LEN, int(model.config.max_position_embeddings))

        def at(t: int) -> Decoder:
            return lambda src: mask_predict(cmlm, src, pad, t, LENGTH_BEAM, cap, UNBOUNDED)

        return {f"{name} T={t}": at(t) for t in iterations}, ckpt.tokenizer
    return {f"{name} greedy": lambda src: generate_nbest(model, src, pad, 1, 1, MAX_LEN, UNBOUNDED)}, ckpt.tokenizer


def sentences_per_s(decode: Decoder, src: list[list[int]], batch: int) -> float:
    """Sentences per second decoding `src` in consecutive chunks of `batch` sentences."""
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(src), batch):
            decode(src[i:i + batch])
    return len(src) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="NAME=CHECKPOINT (repeatable)")
    parser.add_argument("--iterations", default="1,4,10", help="CMLM iteration counts T")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "nat_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    iterations = [int(t) for t in args.iterations.split(",")]
    specs = [("teacher", TEACHER)] + [(n, Path(p)) for n, _, p in (m.partition("=") for m in args.model)]
    sources = read_corpus(TEST).sources()[:args.sentences]
    load = os.getloadavg()[0]
    settings: dict[str, Decoder] = {}
    src: list[list[int]] = []
    for name, path in specs:
        found, tokenizer = decoders(name, path, iterations)
        settings.update(found)
        src = src or tokenizer.encode_batch(sources, "source", max_len=MAX_LEN)  # students share the vocabulary
    best: dict[str, dict[str, float]] = {}
    for round_ in range(args.rounds):
        for setting, decode in settings.items():
            speeds = {f"sent_s_batch{b}": sentences_per_s(decode, src, b) for b in (32, 1)}
            best[setting] = {k: max(v, best.get(setting, {}).get(k, 0.0)) for k, v in speeds.items()}
            print(f"round {round_ + 1} {setting}: {speeds['sent_s_batch32']:.1f} sent/s (batch 32), "
                  f"{speeds['sent_s_batch1']:.1f} (batch 1)", flush=True)
    result = {"setup": {"test_set": str(TEST), "sentences": len(src), "threads": args.threads,
                        "rounds": args.rounds, "length_beam": LENGTH_BEAM, "max_len": MAX_LEN,
                        "load_at_start": load, "torch": torch.__version__, "machine": platform.processor(),
                        "time": time.strftime("%Y-%m-%d %H:%M:%S")},
              "models": {n: str(p) for n, p in specs}, "speeds": best}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
