"""The KA paper's protocol (section 5.2) on the Bible corpus, resumable: stage 1, then stage 2 with seeds.

Stage 1 trains the shrunk 3/1 student (the teacher's embeddings, 3 encoder layers and decoder layer 0,
`kd model shrink`) with label-smoothed NLL until its validation BLEU stops improving: `stage1-nll` on the
references, `stage1-seqkd` on the teacher's beam-5 translations of the whole training set (`kd distill-data`).
Stage 2 fine-tunes copies of a stage-1 checkpoint with each objective at an equal budget (the same
optimiser steps over the same reference batches), for several seeds, and evaluates every run on the whole
test set, greedy and beam 5, through a float32 CTranslate2 export (greedy equals PyTorch's exactly).

Every run is a `kd train` subprocess with its own log; a finished run (its `final/manifest.json`) is
skipped, an interrupted one resumes from its last checkpoint (`--resume`), a missing evaluation is made.
So the whole protocol, many hours of 2-core time, can be stopped and started again at will. A run is
claimed (a `.claim` file with the driver's pid) while a driver works on it, so several drivers started on
the same rows and seeds share the work; a claim whose driver is gone is taken over.

Usage, from the repository root:
  python -m experiments.protocol.run --stage 1            # stage-1 students (and the Seq-KD data first)
  python -m experiments.protocol.run --stage 2 --seeds 1,2,3 --parallel 2
  python -m experiments.protocol.run --stage 2 --rows word_kd,ka --seeds 1 --dry-run
  python -m experiments.protocol.run --stage 2 --base nll-long --recipe continue   # stage 1's LR, continued
Then `python -m experiments.protocol.table` writes the tables into the results docs (docs/results/passes/).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from experiments.logged import call_logged
from experiments.protocol.plan import (
    BASES,
    DATA,
    REPO,
    ROWS,
    STAGE2,
    TEACHER,
    Run,
    base_step,
    seq_kd_data,
    stage1_runs,
    stage2_runs,
)
from experiments.run_records import archive


def _log(message: str) -> None:
    print(f"[protocol {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _claim(run: Run) -> bool:
    """Claim the run for this driver unless a live driver holds it."""
    run.out.mkdir(parents=True, exist_ok=True)
    claim = run.out / ".claim"
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                os.kill(int(claim.read_text().strip() or 0), 0)
                return False  # a live driver holds it
            except (ProcessLookupError, ValueError):
                claim.unlink(missing_ok=True)  # its driver is gone: take it over
                continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def execute(run: Run, logs: Path, dry_run: bool) -> None:
    """Train (or resume) and evaluate one run, skipping what is already finished or claimed; then keep its
    records in the repository."""
    if run.done and run.evaluated:
        if not dry_run and not (run.archive / "results.json").is_file():
            archive(run.out, run.archive)
        return
    if not dry_run and not _claim(run):
        _log(f"{run.name}: another driver is on it")
        return
    try:
        _train_and_evaluate(run, logs, dry_run)
    finally:
        if not dry_run:
            (run.out / ".claim").unlink(missing_ok=True)


def _train_and_evaluate(run: Run, logs: Path, dry_run: bool) -> None:
    kd = [sys.executable, "-m", "kd"]
    if not run.done:
        argv = [*kd, "train", "--recipe", str(run.recipe), "--set", f"output_dir={run.out}",
                *[a for s in run.sets for a in ("--set", s)]]
        if (run.out / "checkpoints").is_dir():
            argv.append("--resume")
        _log(f"{run.name}: {'resume' if '--resume' in argv else 'train'} -> {run.out}")
        if not dry_run:
            call_logged(argv, logs / f"train-{run.out.parent.name}-{run.name}.log")
    if not run.evaluated:
        _log(f"{run.name}: evaluate on the whole test set (greedy, beam 5)")
        if not dry_run:
            call_logged([*kd, "evaluate", "--model", str(run.out / "final"), "--data", str(DATA / "test.tsv"),
                   "--beams", "1,5", "--max-len", "160", "--engine", "ctranslate2", "--threads", "1",
                   "--out", str(run.out / "eval")], logs / f"eval-{run.out.parent.name}-{run.name}.log")
    if not dry_run:
        archive(run.out, run.archive)
    _log(f"{run.name}: done (records kept in {run.archive.relative_to(REPO)})")


def prepare_stage1(out: Path, teacher: str, logs: Path, dry_run: bool, seq_data: bool = True) -> None:
    """The shrunk student and (when a run needs it) the whole-corpus Seq-KD data, each made once."""
    kd = [sys.executable, "-m", "kd"]
    if not (out / "shrunk-3-1" / "manifest.json").is_file() and not dry_run:
        call_logged([*kd, "model", "shrink", "--teacher", str(TEACHER), "--decoder-layers", "0",
               "--out", str(out / "shrunk-3-1")], logs / "shrink.log")
    if seq_data and not seq_kd_data(out).is_file() and not dry_run:
        _log("Seq-KD data of the whole training set (beam 5, 5-best)")
        call_logged([*kd, "distill-data", "--teacher", teacher, "--data", str(DATA / "train.tsv"),
               "--out", str(seq_kd_data(out).parent), "--beam", "5", "--nbest", "5", "--chunk-size", "512"],
              logs / "distill-full.log")


def _start_teacher(generate_engine: str) -> tuple[object, object]:
    from services.teacher.launch import RedisProcess, TeacherProcess

    redis = RedisProcess(maxmemory="2gb").start()
    teacher = TeacherProcess(TEACHER, ["--redis-url", redis.url, "--threads", "1", "--generate-engine",
                                       generate_engine, "--max-batch-tokens", "60000"]).start()
    return redis, teacher


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=("1", "2"), required=True)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "protocol")
    parser.add_argument("--base", choices=tuple(BASES), default="nll",
                        help="stage-1 student that stage 2 starts from")
    parser.add_argument("--recipe", choices=tuple(STAGE2), default="restart",
                        help="stage 2: restart the learning rate (stage2.yaml) or continue the base's schedule "
                             "(stage2_continue.yaml)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"stage-2 rows (default: all of {', '.join(ROWS)})")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    parser.add_argument("--teacher", default=None, help="host:port of a running teacher (default: start one)")
    parser.add_argument("--only", default=None, help="comma-separated run names to run (default: all of the stage)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override for every run of the stage (repeatable), e.g. max_steps=150")
    parser.add_argument("--dry-run", action="store_true", help="say what would run")
    parser.add_argument("--prepare-only", action="store_true",
                        help="stage 1: make the shrunk student and the Seq-KD data its runs need, then stop")
    args = parser.parse_args()
    logs = args.out / "logs"
    unknown = set(args.rows.split(",")) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; choose from {', '.join(ROWS)}")
    if args.stage == "2" and STAGE2[args.recipe].continues:
        try:
            base_step(args.out, args.base)
        except FileNotFoundError as exc:
            parser.error(str(exc))
    services = (None, None) if args.teacher or args.dry_run else _start_teacher("ctranslate2")
    teacher = args.teacher or (getattr(services[1], "target", "127.0.0.1:1"))
    try:
        if args.stage == "1":
            runs = stage1_runs(args.out)
        else:
            runs = stage2_runs(args.out, args.base, args.rows.split(","), [int(s) for s in args.seeds.split(",")],
                               teacher, args.recipe)
        if args.only:
            runs = [r for r in runs if r.name in args.only.split(",")]
        if args.stage == "1":
            seq_data = any(b.seq_kd and b.run == r.name for b in BASES.values() for r in runs)
            prepare_stage1(args.out, teacher, logs, args.dry_run, seq_data)
            if args.prepare_only:
                runs = []
        for run in runs:
            run.sets.extend(args.sets)
        with ThreadPoolExecutor(max(args.parallel, 1)) as pool:
            for future in [pool.submit(execute, run, logs, args.dry_run) for run in runs]:
                future.result()
    finally:
        for service in reversed(services):
            if service is not None:
                service.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
