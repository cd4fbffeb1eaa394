"""One engine for members and ensembles: translate with one model or several through the ensemble beam search.

    python -m experiments.ensemble.decode test --model A --model B --data test.tsv --out runs/ens/members.json
    python -m experiments.ensemble.decode seqkd --model A --model B --data train.tsv --beam 5 --out DIR/seq_kd.tsv

`test` decodes the whole test set with each model alone and with all of them as one ensemble (equal weights),
at each `--beam` (default greedy and beam 5), and writes BLEU, chrF, sentences/s and sacrebleu's paired
approximate-randomisation test of the ensemble against each member. `seqkd` writes Seq-KD data (the sources and
the best beam output, columns as the input's), of the whole file or of `--sample N` sources drawn with a fixed
seed. A single model runs through the same search (`s2s.teacher.ensemble_search` with one member), which is
what `kd teacher serve --model A --model B` answers `Generate` with, so every row of a comparison comes from
one engine (PyTorch float32, `--threads` threads) and one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from experiments.same_engine import paired
from s2s.atomic import write_text_atomic
from s2s.checkpoint import Checkpoint, load_checkpoint
from s2s.corpus import read_corpus
from s2s.evaluation import score_corpus
from s2s.families.base import max_positions
from s2s.teacher.ensemble import check_members
from s2s.teacher.ensemble_search import ensemble_nbest

MAX_LEN = 160


def load(models: Sequence[Path]) -> list[Checkpoint]:
    """The members, refused unless they share one vocabulary."""
    checkpoints = [load_checkpoint(m) for m in models]
    check_members(checkpoints)
    return checkpoints


def translate(members: Sequence[Checkpoint], sources: Sequence[str], beam: int,
              chunk: int = 1000) -> tuple[list[str], float]:
    """The best beam output of the members' equal-weight mixture for every source, and the seconds it took;
    sources go in chunks of `chunk`, with progress and the time left on stderr."""
    tok = members[0].tokenizer
    max_len = min([MAX_LEN, *(max_positions(m.model.config) for m in members)])  # a small model's table caps it
    src_ids = tok.encode_batch(sources, side="source", max_len=max_len)
    log_w = [-math.log(len(members))] * len(members)
    start = time.perf_counter()
    texts: list[str] = []
    for first in range(0, len(src_ids), chunk):
        found = ensemble_nbest([m.model for m in members], log_w, src_ids[first:first + chunk], tok.pad_id, beam,
                               1, max_len, forced_bos_id=tok.forced_bos_id)
        texts += [tok.decode(h[0].ids) for h in found]
        if len(src_ids) > chunk:
            spent = time.perf_counter() - start
            left = spent / len(texts) * (len(src_ids) - len(texts))
            print(f"[decode] {len(texts):,}/{len(src_ids):,} sentences, {spent / 60:.1f} min, about "
                  f"{left / 60:.1f} min left", file=sys.stderr, flush=True)
    return texts, time.perf_counter() - start


def display_name(model: Path) -> str:
    """A model's name in tables: its folder's, or its run's for a trainer's `final` folder."""
    return model.parent.name if model.name == "final" else model.name


def compare(models: Sequence[Path], data: Path, src: str, tgt: str, beams: Sequence[int]) -> dict[str, Any]:
    """Every member alone and their ensemble on one test set, each beam size, one engine and one run."""
    corpus = read_corpus(data, src_col=src, tgt_col=tgt)
    sources, refs = corpus.sources(), corpus.targets()
    checkpoints = load(models)
    systems = {display_name(c.path): [c] for c in checkpoints}
    systems["ensemble"] = checkpoints
    rows: list[dict[str, Any]] = []
    for beam in beams:
        outputs: dict[str, list[str]] = {}
        for name, members in systems.items():
            hyps, seconds = translate(members, sources, beam)
            outputs[name] = hyps
            scores = score_corpus(hyps, refs)
            rows.append({"system": name, "beam": beam, "bleu": round(scores.bleu, 2), "chrf": round(scores.chrf, 2),
                         "sentences_per_s": round(len(sources) / seconds, 1)})
            print(json.dumps(rows[-1]), flush=True)
        rows += _paired(outputs, refs, beam)
    return {"data": str(data), "sentences": len(sources), "models": [str(m) for m in models],
            "threads": torch.get_num_threads(), "load_average": os.getloadavg()[0], "rows": rows}


def _paired(outputs: dict[str, list[str]], refs: list[str], beam: int) -> list[dict[str, Any]]:
    """sacrebleu's paired approximate randomisation: the ensemble against each member (10,000 trials)."""
    rows = []
    for name in (n for n in outputs if n != "ensemble"):
        result = paired([name, "ensemble"], outputs, refs, baseline=name)["ensemble"]
        rows.append({"paired": f"ensemble vs {name}", "beam": beam, "p": round(float(result["p_value"]), 4)})
    return rows


def seqkd(models: Sequence[Path], data: Path, src: str, tgt: str, beam: int, out: Path,
          sample: int | None = None) -> dict[str, Any]:
    """Seq-KD data: the corpus's sources with the members' (ensemble's) best beam output as targets; with
    `sample`, of that many sources drawn without replacement (seed 0, so every run draws the same ones)."""
    sources = read_corpus(data, src_col=src, tgt_col=tgt).sources()
    if sample is not None and sample < len(sources):
        sources = [sources[i] for i in sorted(random.Random(0).sample(range(len(sources)), sample))]
    hyps, seconds = translate(load(models), sources, beam)
    lines = ["\t".join([src, tgt])] + ["\t".join([s, h]) for s, h in zip(sources, hyps, strict=True)]
    write_text_atomic(out, "\n".join(lines) + "\n")
    return {"out": str(out), "sentences": len(sources), "beam": beam, "seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["test", "seqkd"])
    parser.add_argument("--model", type=Path, action="append", required=True, help="a member (repeat)")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--src", default="es")
    parser.add_argument("--tgt", default="en")
    parser.add_argument("--beam", type=int, action="append", help="beam size (test: repeat; default 1 and 5)")
    parser.add_argument("--sample", type=int, default=None, help="seqkd: translate this many sources drawn at random")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "test":
        result = compare(args.model, args.data, args.src, args.tgt, args.beam or [1, 5])
        write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    else:
        result = seqkd(args.model, args.data, args.src, args.tgt, (args.beam or [5])[0], args.out,
                       args.sample)
    print(json.dumps(result)[:2000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
