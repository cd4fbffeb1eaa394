"""Trainer benchmark: student tokens/s of one Word-KD recipe with the teacher in-process, over gRPC with a
cold cache, over gRPC with a warm Redis cache, and from a teacher-output store with no teacher, in one run;
and the teacher compute each costs (teacher-seconds per thousand student tokens).

    python -m bench.trainer [--steps 60] [--max-tokens 2048] [--threads 1] [--train-rows 4000]
                            [--out bench/results/trainer.json] [--update-doc docs/trainer.md]

Every mode trains the same recipe (same student, seed, data order and batches) through the real trainer
on local Ray (Ray Train, one worker). Throughput is target tokens per second of training-loop wall time,
taken from the trainer's own `metrics.jsonl` without the first logging interval (start-up). The student
and the teacher get the same CPU threads in every mode: in-process they share the worker process; over
gRPC the teacher runs in its own server process (`python -m services.teacher`) with a Redis cache,
which is flushed before the cold run and left full for the warm run. The store mode trains from a store of
the same training rows, precomputed in-process beforehand (its one-off cost is reported apart).

Teacher compute: in-process, the seconds spent inside the teacher's calls (the run's `teacher_stats`); over
gRPC, the model seconds the server's metrics count (`kd_teacher_model_seconds`) during the run, and the
server process's CPU seconds; from the store, the same server counters (the server is left running, idle).
Every mode trains on the first `--train-rows` rows of the training set (the store covers exactly those).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
import torch

from bench.doc_section import publish
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared
from services.teacher.launch import RedisProcess, TeacherProcess, free_port
from student_trainer.launch import train
from student_trainer.metrics import read_metrics
from student_trainer.precompute import PrecomputeSpec, precompute
from student_trainer.recipe_io import load_recipe

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEACHER = in_shared(REFERENCE_TEACHER)
MODES = ("in_process", "grpc_cold", "grpc_warm", "store")


def _overrides(args: argparse.Namespace, out: Path, teacher: dict[str, str]) -> list[str]:
    sets = [f"max_steps={args.steps}", f"log_every={args.log_every}", "eval_every=0", f"data.train={args.train}",
            f"checkpoint_every={args.steps}", f"output_dir={out}", f"data.max_tokens={args.max_tokens}",
            "data.valid_sentences=0", f"ray.torch_threads={args.threads}", f"loss.k={args.k}",
            f"student.preset={args.preset}", "teacher.endpoints=null", "teacher.in_process=null", "teacher.store=null"]
    return sets + [f"teacher.{key}={value}" for key, value in teacher.items()]


def _throughput(metrics_file: Path) -> dict[str, Any]:
    """Tokens/s, teacher wait share and cache hit rate over the logging intervals after the first."""
    records = [r for r in read_metrics(metrics_file) if r["event"] == "train"][1:]
    if not records:
        raise SystemExit(f"{metrics_file}: too few logging intervals; raise --steps")
    seconds = sum(r["interval_s"] for r in records)
    tokens = sum(r["tokens_per_s"] * r["interval_s"] for r in records)
    wait = sum(r["teacher_wait_s"] for r in records)
    rates = [r["cache_hit_rate"] for r in records if r["cache_hit_rate"] is not None]
    return {"tokens_per_s": tokens / seconds, "seconds": seconds, "target_tokens": int(tokens),
            "teacher_wait_frac": wait / seconds, "cache_hit_rate": sum(rates) / len(rates) if rates else None,
            "intervals_measured": len(records)}


def _server_seconds(server: TeacherProcess, metrics_port: int) -> tuple[float, float]:
    """(model seconds the server's metrics count, CPU seconds of the server process) so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    model = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("kd_teacher_model_seconds_sum"))
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return model, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(args: argparse.Namespace, mode: str, work: Path, teacher: dict[str, str], server: TeacherProcess,
         metrics_port: int) -> dict[str, Any]:
    out = work / mode
    recipe = load_recipe("word_kd", _overrides(args, out, teacher))
    before = _server_seconds(server, metrics_port)
    start = time.perf_counter()
    train(recipe)
    after = _server_seconds(server, metrics_port)
    end = [r for r in read_metrics(out / "metrics.jsonl") if r["event"] == "end"][-1]
    stats = end.get("teacher_stats") or {}
    tokens = end["target_tokens"]
    model_s = stats.get("teacher_wait_s", 0.0) if mode == "in_process" else after[0] - before[0]
    result = {"mode": mode, **_throughput(out / "metrics.jsonl"), "wall_s": time.perf_counter() - start,
              "student_tokens": tokens, "teacher_model_s": model_s, "teacher_process_cpu_s": after[1] - before[1],
              "teacher_s_per_1k_tokens": 1000 * model_s / tokens, "teacher_stats": stats}
    print(f"[bench] {mode}: {result['tokens_per_s']:.0f} student tokens/s, teacher wait "
          f"{100 * result['teacher_wait_frac']:.0f}%, cache hit rate {result['cache_hit_rate']}, "
          f"teacher {result['teacher_s_per_1k_tokens']:.3f} s per 1k student tokens", flush=True)
    return result


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """The four modes, one after the other, with one Redis and one teacher server process."""
    work = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    args.train = work / "train.tsv"
    lines = in_shared(BIBLE / "train.tsv").read_text(encoding="utf-8").splitlines()
    args.train.write_text("\n".join(lines[: args.train_rows + 1]) + "\n", encoding="utf-8")
    start = time.perf_counter()
    store = precompute(PrecomputeSpec(data=str(args.train), out=str(work / "store"), model=str(args.teacher),
                                      k=args.k, device="cpu", threads=args.threads))
    precompute_s = time.perf_counter() - start
    redis_proc = RedisProcess(maxmemory="512mb").start()
    metrics_port = free_port()
    server = TeacherProcess(args.teacher, ["--redis-url", redis_proc.url, "--threads", str(args.threads),
                                           "--device", "cpu", "--metrics-port", str(metrics_port)]).start()
    try:
        results = [_run(args, "in_process", work, {"in_process": str(args.teacher)}, server, metrics_port)]
        redis.Redis.from_url(redis_proc.url).flushdb()
        results.append(_run(args, "grpc_cold", work, {"endpoints": server.target}, server, metrics_port))
        results.append(_run(args, "grpc_warm", work, {"endpoints": server.target}, server, metrics_port))
        results.append(_run(args, "store", work, {"store": str(work / "store")}, server, metrics_port))
    finally:
        server.stop()
        redis_proc.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = results[0]["tokens_per_s"]
    for r in results:
        r["vs_in_process"] = r["tokens_per_s"] / base
    return {"benchmark": "trainer", "recipe": "word_kd", "steps": args.steps, "max_tokens": args.max_tokens,
            "student": args.preset, "teacher": str(args.teacher), "k": args.k, "threads": args.threads,
            "train_rows": args.train_rows, "load_average": os.getloadavg(),
            "store_precompute": {"seconds": precompute_s, "sentences": store.manifest.sentences,
                                 "positions": store.manifest.positions, "bytes": store.manifest.bytes},
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                        "cuda": torch.cuda.is_available()},
            "results": results, "target": "grpc_warm >= 1.0x in_process",
            "target_met": results[2]["vs_in_process"] >= 1.0,
            "store_target": "store: zero teacher compute at >= 0.95x the warm cache's tokens/s",
            "store_target_met": results[3]["teacher_model_s"] == 0 and results[3]["tokens_per_s"]
            >= 0.95 * results[2]["tokens_per_s"]}


def markdown_table(report: dict[str, Any]) -> str:
    lines = ["| teacher | student tokens/s | vs in-process | teacher wait | cache hit rate "
             "| teacher-s per 1k student tokens | teacher process CPU s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    names = {"in_process": "in-process", "grpc_cold": "gRPC, cold cache", "grpc_warm": "gRPC, warm cache",
             "store": "store (`teacher.store`), no teacher"}
    for r in report["results"]:
        hit = "-" if r["cache_hit_rate"] is None else f"{100 * r['cache_hit_rate']:.0f}%"
        cpu = "-" if r["mode"] == "in_process" else f"{r.get('teacher_process_cpu_s', 0):.1f}"
        lines.append(f"| {names[r['mode']]} | {r['tokens_per_s']:.0f} | {r['vs_in_process']:.2f}x | "
                     f"{100 * r['teacher_wait_frac']:.0f}% | {hit} | {r.get('teacher_s_per_1k_tokens', 0):.3f} "
                     f"| {cpu} |")
    return "\n".join(lines)



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, default=DEFAULT_TEACHER, help="teacher model folder")
    parser.add_argument("--preset", default="student-tiny", help="student preset")
    parser.add_argument("--steps", type=int, default=60, help="training steps per mode")
    parser.add_argument("--log-every", type=int, default=10, help="steps per logging interval")
    parser.add_argument("--max-tokens", type=int, default=2048, help="batch token budget")
    parser.add_argument("--k", type=int, default=8, help="teacher top-k")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the student and of the teacher")
    parser.add_argument("--train-rows", type=int, default=4000, help="training rows every mode uses (and the store)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "trainer.json")
    parser.add_argument("--update-doc", type=Path, default=None, help="fill the table in this markdown file")
    args = parser.parse_args(argv)
    report = run_all(args)
    publish(report, args.out, markdown_table(report), args.update_doc, "trainer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
