"""Issue 30's quality check in one command: Word-KD on the top 8 + rest mass against Word-KD on the sampled
signal (m = 12 draws from q per position), fine-tuned from one stage-1 base, three seeds each, whole test set.

    python -m experiments.protocol.signals [--out runs/protocol] [--parallel 2]
    python -m experiments.protocol.signals --smoke     # a few minutes: 4 steps, a test-micro student

It runs `experiments.protocol.run` twice and then `experiments.protocol.table`, as modules from the
repository root (the folder holds a package, not scripts):
1. stage 1: the base `nll-1k-sig` (1,000 NLL steps from the shrunk teacher, student seed 6; about 30 min on
   2 quiet cores, both torch threads);
2. stage 2: rows `word_kd` (α = 0.5, k = 8, tail) and `word_kd_sampled` (α = 0.5, m = 12), seeds 1, 2, 3,
   150 steps each, two runs at a time, each evaluated on the whole test set, greedy and beam 5 (about 30 min);
3. the tables (BLEU mean ± sd over seeds, sacrebleu's paired bootstrap test of the sampled row against
   Word-KD with the seeds pooled), printed and written to OUT/signals-table.md (docs untouched).
Like run.py it resumes: after an interruption, run the same command again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE, ROWS, SEEDS = "nll-1k-sig", "word_kd,word_kd_sampled", "1,2,3"
STAGE2_SETS = ("max_steps=150", "eval_every=50", "checkpoint_every=50")
SMOKE_SETS = ("max_steps=4", "eval_every=2", "checkpoint_every=2", "log_every=2", "data.valid_sentences=8")


def commands(out: Path, parallel: int, smoke: bool) -> list[list[str]]:
    """The driver's three command lines (run.py stage 1, run.py stage 2, table.py)."""
    run = [sys.executable, "-m", "experiments.protocol.run", "--out", str(out)]
    stage1 = [*run, "--stage", "1", "--only", f"stage1-{BASE}", "--set", "ray.torch_threads=2"]
    stage2 = [*run, "--stage", "2", "--base", BASE, "--rows", ROWS, "--seeds", "1" if smoke else SEEDS,
              "--parallel", str(parallel)]
    if smoke:
        tiny = (*SMOKE_SETS, "student.init_from=null", "student.preset=test-micro")
        stage1 += [a for s in tiny for a in ("--set", s)]
        stage2 += [a for s in SMOKE_SETS for a in ("--set", s)]
    else:
        stage2 += [a for s in STAGE2_SETS for a in ("--set", s)]
    table = [sys.executable, "-m", "experiments.protocol.table", "--out", str(out), "--base", BASE, "--no-docs"]
    return [stage1, stage2, table]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="runs folder (default runs/protocol; with --smoke runs/protocol-smoke-signals)")
    parser.add_argument("--parallel", type=int, default=2, help="stage-2 runs at a time (default 2)")
    parser.add_argument("--smoke", action="store_true", help="check the pipeline in minutes (4 steps, test-micro)")
    args = parser.parse_args()
    out = args.out or REPO / "runs" / ("protocol-smoke-signals" if args.smoke else "protocol")
    *training, table = commands(out, args.parallel, args.smoke)
    env = dict(os.environ)
    if args.smoke:  # the smoke's run records stay out of the repository's archive
        env["KD_PROTOCOL_ARCHIVE"] = str(out / "archive")
    for argv in training:
        print(f"[signals] $ {' '.join(argv)}", flush=True)
        subprocess.run(argv, cwd=REPO, check=True, env=env)
    tables = subprocess.run(table, cwd=REPO, check=True, capture_output=True, text=True, env=env).stdout
    (out / "signals-table.md").write_text(tables, encoding="utf-8")
    print(tables)
    print(f"[signals] tables kept in {out / 'signals-table.md'}; run records in "
          f"{env.get('KD_PROTOCOL_ARCHIVE', 'docs/results/logs/protocol/runs/')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
