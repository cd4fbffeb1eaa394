"""What a decoder layer and the output layer cost in CTranslate2 int8, measured on random-weight models.

    python -m bench.output_layer [--rounds 3] [--sentences 512]

Every model decodes the same work: the first `--sentences` test verses' source lengths (as the reference
teacher tokenises them; random in-vocabulary pieces of those lengths), exactly 30 greedy steps each
(`min_decoding_length = max_decoding_length = 30`), batch 32, 2 threads, in alternating rounds (best round
kept), so that only the shape differs. Shapes: the teacher (3/3 layers, d 256, 8,001 pieces), the 3/1 student
at 8,001 / 4,000 / 2,000 / 500 pieces, the 3/2 student at 8,001 pieces and a 6-layer encoder. From them:
one decoder layer's share of the teacher's time (3/2 minus 3/1), and the output layer's (the 3/1 student's
time at 8,001 pieces minus its time extrapolated to no vocabulary, by a least-squares line through the four
vocabulary sizes). Writes bench/results/output_layer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np

from s2s.checkpoint import Manifest, save_checkpoint
from s2s.corpus import read_corpus
from s2s.export import export_checkpoint
from s2s.presets import ModelPreset, build_model, count_parameters
from s2s.shared import BIBLE, REFERENCE_TEACHER, shared_dir
from s2s.tokenizer import Tokenizer
from s2s.tokenizer_training import train_tokenizer

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "output_layer.json"
STEPS, BATCH, THREADS = 30, 32, 2
SHAPES: dict[str, tuple[ModelPreset, int]] = {
    "teacher 3/3, 8,001": (ModelPreset(3, 3, 256, 4, 1024), 8000),
    "student 3/1, 8,001": (ModelPreset(3, 1, 256, 4, 1024), 8000),
    "student 3/1, 4,000": (ModelPreset(3, 1, 256, 4, 1024), 3999),
    "student 3/1, 2,000": (ModelPreset(3, 1, 256, 4, 1024), 1999),
    "student 3/1, 500": (ModelPreset(3, 1, 256, 4, 1024), 499),
    "student 3/2, 8,001": (ModelPreset(3, 2, 256, 4, 1024), 8000),
    "student 6/1, 8,001": (ModelPreset(6, 1, 256, 4, 1024), 8000),
}


def _export(index: int, preset: ModelPreset, pieces: int, texts: list[str], tmp: Path) -> Path:
    """A random-weight model of `preset` on a vocabulary of `pieces` + 1 ids, exported to int8."""
    tok_dir = tmp / f"tok-{pieces}"
    tokenizer = Tokenizer(tok_dir) if (tok_dir / "vocab.json").is_file() else train_tokenizer(texts, tok_dir, pieces)
    model = build_model(preset, tokenizer, seed=1)
    folder = save_checkpoint(model, tokenizer, tmp / f"model-{index}", Manifest(
        model_id=f"shape-{index}", vocab_fingerprint=tokenizer.fingerprint, parameters=count_parameters(model)))
    export_checkpoint(folder, tmp / f"export-{index}", "int8")
    return tmp / f"export-{index}"


def _sources(export: Path, lengths: list[int], seed: int = 1) -> list[list[str]]:
    """Random in-vocabulary pieces of the given lengths (ending in `</s>`), the same draw for every model."""
    vocab = json.loads((export / "vocab.json").read_text(encoding="utf-8"))
    pieces = [p for p in vocab if p not in ("</s>", "<unk>", "<pad>")]
    rng = random.Random(seed)
    return [[rng.choice(pieces) for _ in range(n - 1)] + ["</s>"] for n in lengths]


def _time(translator: ctranslate2.Translator, sources: list[list[str]]) -> float:
    start = time.perf_counter()
    for i in range(0, len(sources), BATCH):
        translator.translate_batch(sources[i:i + BATCH], beam_size=1, min_decoding_length=STEPS,
                                   max_decoding_length=STEPS, max_batch_size=BATCH)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    parser.add_argument("--sentences", type=int, default=512, help="test verses whose lengths are decoded")
    args = parser.parse_args()
    shared = shared_dir()
    if shared is None:
        raise SystemExit("../shared (corpus and reference teacher) is needed beside the repository")
    reference = Tokenizer(shared / REFERENCE_TEACHER)
    test = read_corpus(shared / BIBLE / "test.tsv").pairs[: args.sentences]
    lengths = [len(reference.encode_source(p.src, 256)) for p in test]
    texts = [x for p in read_corpus(shared / BIBLE / "train.tsv").pairs[:8000] for x in (p.src, p.tgt)]
    best: dict[str, float] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kd-bench-output-") as tmp:
        models = {name: _export(i, preset, pieces, texts, Path(tmp))
                  for i, (name, (preset, pieces)) in enumerate(SHAPES.items())}
        translators = {name: ctranslate2.Translator(str(path), device="cpu", compute_type="default",
                                                    intra_threads=THREADS, inter_threads=1)
                       for name, path in models.items()}
        sources = {name: _sources(path, lengths) for name, path in models.items()}
        vocab = {name: len(json.loads((path / "vocab.json").read_text(encoding="utf-8")))
                 for name, path in models.items()}
        for name in models:  # warm up
            _time(translators[name], sources[name][:BATCH])
        for _ in range(args.rounds):
            for name in models:
                best[name] = min(best.get(name, float("inf")), _time(translators[name], sources[name]))
    teacher = best["teacher 3/3, 8,001"]
    students = [f"student 3/1, {v:,}" for v in (8001, 4000, 2000, 500)]
    slope, intercept = np.polyfit([vocab[n] for n in students], [best[n] for n in students], 1)
    layer = best["student 3/2, 8,001"] - best["student 3/1, 8,001"]
    output = slope * vocab["student 3/1, 8,001"]
    result: dict[str, Any] = {
        "seconds": best, "vocabulary": vocab, "speedup_vs_teacher": {n: teacher / t for n, t in best.items()},
        "decoder_layer_share_of_teacher": layer / teacher, "output_layer_share_of_teacher": output / teacher,
        "output_layer_in_decoder_layers": output / layer, "fit": {"slope_s_per_piece": slope, "intercept_s": intercept},
        "setup": {"sentences": len(lengths), "steps": STEPS, "batch": BATCH, "threads": THREADS,
                  "rounds": args.rounds, "ctranslate2": ctranslate2.__version__, "machine": platform.processor()
                  or platform.machine(), "cpus": os.cpu_count(), "load_before": load_before,
                  "load_after": os.getloadavg()}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, seconds in best.items():
        print(f"{name:22s} {seconds:6.2f} s  {teacher / seconds:4.2f}x the teacher")
    print(f"one decoder layer: {layer / teacher:.0%} of the teacher's time; the output layer at 8,001 pieces: "
          f"{output / teacher:.0%} ({output / layer:.2f} decoder layers); load {load_before} -> {os.getloadavg()}")


if __name__ == "__main__":
    main()
