"""Issue 31's experiment in one resumable command: a second teacher, the ensemble, and students from each.

    python -m experiments.ensemble.run [--out runs/ensemble] [--student-steps 200] [--seqkd-beam 1]
        [--seqkd-sample 12000] [--beams 1]

1. member B: the reference teacher trained on for 300 steps with seed 2 (`member_b.yaml`, about 30 min);
2. the reference (A), B and their equal-weight ensemble on the whole test set (`--beams`), through one
   engine in one run (`experiments.ensemble.decode test`), with paired tests of the ensemble against each;
3. Seq-KD data from A alone and from the ensemble, through that same search, of `--seqkd-sample` training
   sources (the defaults, greedy and 12,000 of 27,982, fit issue 31's 4-hour budget: beam 5 over the whole
   set would take the ensemble 74 minutes here);
4. `kd up`'s student recipe (`up_student`: the teacher shrunk to 3/1, label-smoothed NLL on the Seq-KD data)
   on each, student seeds 1, 2, 3, `--student-steps` steps;
5. every student and the teacher exported to CTranslate2 int8 and measured in one run of
   `experiments.same_engine` (greedy BLEU on the whole test set, sentences/s at batch 32);
6. the table (`experiments.ensemble.table`): mean ± sd over seeds and the paired test with seeds pooled.
Each step's output is kept under OUT and reused when the command runs again; logs go to OUT/logs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from experiments.logged import call_logged
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SEEDS = (1, 2, 3)
SOURCES = ("single", "ensemble")


def _call(argv: list[str], log: Path, done: Path) -> None:
    """Run one step unless its output exists; the command line and its output go to `log`."""
    if done.exists():
        print(f"[ensemble] reuse {done}", flush=True)
        return
    print(f"[ensemble] {time.strftime('%H:%M:%S')} $ {' '.join(argv)}  (log {log})", flush=True)
    call_logged(argv, log)


def _resume(run: Path) -> list[str]:
    """`--resume` when an interrupted run left its folder: the trainer picks up from its last checkpoint
    (or starts afresh when there is none)."""
    return ["--resume"] if run.is_dir() else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "ensemble")
    parser.add_argument("--student-steps", type=int, default=200,
                        help="training steps per student (kd up runs 600; 200 fit six students into the budget)")
    parser.add_argument("--seqkd-beam", type=int, default=1, help="beam of the Seq-KD translations")
    parser.add_argument("--seqkd-sample", type=int, default=12000,
                        help="training sources translated for Seq-KD (drawn with a fixed seed; 0: all)")
    parser.add_argument("--beams", default="1", help="beam sizes of the members' test (comma-separated)")
    args = parser.parse_args()
    out, logs = args.out.resolve(), args.out.resolve() / "logs"
    ref, data = in_shared(REFERENCE_TEACHER), in_shared(BIBLE)
    kd, py = [sys.executable, "-m", "kd"], sys.executable

    full = out / "teacher-ckpt"
    _call([*kd, "model", "shrink", "--teacher", str(ref), "--decoder-layers", "0,1,2", "--out", str(full)],
          logs / "prepare.log", full / "manifest.json")
    member_b = out / "member-b"
    _call([*kd, "train", "--recipe", str(HERE / "member_b.yaml"), "--set", f"output_dir={member_b}",
           "--set", f"student.init_from={full}", "--set", f"student.tokenizer={ref}",
           "--set", "ray.torch_threads=2", *_resume(member_b)], logs / "member-b.log",
          member_b / "final" / "manifest.json")
    b = member_b / "final"
    _call([py, "-m", "experiments.ensemble.decode", "test", "--model", str(ref), "--model", str(b),
           "--data", str(data / "test.tsv"), *[a for k in args.beams.split(",") for a in ("--beam", k)],
           "--out", str(out / "members.json")], logs / "members.log",
          out / "members.json")
    seq = {"single": out / "seq-single" / "seq_kd.tsv", "ensemble": out / "seq-ensemble" / "seq_kd.tsv"}
    for name, members in (("single", [ref]), ("ensemble", [ref, b])):
        _call([py, "-m", "experiments.ensemble.decode", "seqkd", *[a for m in members for a in ("--model", str(m))],
               "--data", str(data / "train.tsv"), "--beam", str(args.seqkd_beam), "--out", str(seq[name]),
               *(["--sample", str(args.seqkd_sample)] if args.seqkd_sample else [])],
              logs / f"seqkd-{name}.log", seq[name])
    init = out / "student-init"
    _call([*kd, "model", "shrink", "--teacher", str(ref), "--decoder-layers", "0", "--out", str(init)],
          logs / "prepare.log", init / "manifest.json")
    exports = {"teacher": out / "exports" / "teacher"}
    _call([*kd, "export", "--model", str(ref), "--out", str(exports["teacher"]), "--quantization", "int8"],
          logs / "export.log", exports["teacher"] / "manifest.json")
    for name in SOURCES:
        for seed in SEEDS:
            run = out / "students" / f"{name}-s{seed}"
            _call([*kd, "train", "--recipe", "student_trainer/recipes/up_student.yaml", "--set", f"output_dir={run}",
                   "--set", f"data.train={seq[name]}", "--set", f"data.valid={data / 'valid.tsv'}",
                   "--set", f"student.init_from={init}", "--set", f"student.tokenizer={ref}",
                   "--set", f"student.seed={seed}", "--set", f"max_steps={args.student_steps}",
                   "--set", f"eval_every={args.student_steps}", "--set", f"checkpoint_every={args.student_steps}",
                   "--set", "ray.torch_threads=2", *_resume(run)], logs / f"train-{name}-s{seed}.log",
                  run / "final" / "manifest.json")
            exports[f"{name}-s{seed}"] = out / "exports" / f"{name}-s{seed}"
            _call([*kd, "export", "--model", str(run / "final"), "--out", str(exports[f"{name}-s{seed}"]),
                   "--quantization", "int8"], logs / "export.log", exports[f"{name}-s{seed}"] / "manifest.json")
    speed = out / "students.json"
    _call([py, "-m", "experiments.same_engine", "--data", str(data / "test.tsv"), "--src", "es", "--tgt", "en",
           *[a for n, p in exports.items() for a in ("--model", f"{n}={p}")], "--keep-hyps", "--out", str(speed)],
          logs / "same-engine.log", speed)
    table = subprocess.run([py, "-m", "experiments.ensemble.table", "--out", str(out)], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout
    (out / "table.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
