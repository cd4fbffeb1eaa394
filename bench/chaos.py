"""Chaos drill: a Word-KD and a KA run on Ray with 2 workers against 2 teacher replicas and Redis, with faults.

    python -m bench.chaos [--steps 120] [--checkpoint-every 10] [--teacher DIR]
                          [--out bench/results/chaos.json] [--update-doc docs/chaos.md]

During each run, watched through the trainer's own `metrics.jsonl`: at 15% of the steps one teacher replica
is SIGKILLed and restarted on its port 10 s later; at 35% Redis is SIGKILLed and restarted (empty); in the
Word-KD run, at 55%, every cached TopK answer is overwritten with one holding a NaN (what any local user
with access to Redis could do); at 75%, right after a checkpoint, the rank-0 Ray worker is SIGKILLed. Before
the first run a broken model folder (a truncated `model.bin`) is dropped into the gateway's folder beside a
good one, and a third folder is added before the second run; a client asks the good model for translations
every half second throughout. The report counts failed steps, steps lost to the worker kill, skipped
non-finite steps, the poisoned values the teacher rejected, and the gateway's answers (`chaos_report`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import redis

from bench.chaos_report import markdown_table, run_summary
from bench.doc_section import publish
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared
from s2s.teacher.contract import TopKResult
from services.teacher import cache_codec as codec
from services.teacher.launch import RedisProcess, TeacherProcess, free_port
from student_trainer.launch import train
from student_trainer.local_ray import start_local_ray
from student_trainer.metrics import read_metrics
from student_trainer.recipe_io import load_recipe

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEACHER = in_shared(REFERENCE_TEACHER)
DEFAULT_DATA = in_shared(BIBLE)


def log(message: str) -> None:
    print(f"[chaos] {time.strftime('%H:%M:%S')} {message}", flush=True)


class Services:
    """Redis, two teacher replicas (metrics on), restartable on their ports."""

    def __init__(self, teacher: Path) -> None:
        self.teacher_dir = teacher
        self.redis = RedisProcess(maxmemory="256mb").start()
        self.metrics_ports = [free_port(), free_port()]
        self.teachers = [self._teacher(i) for i in range(2)]

    def _teacher(self, i: int, port: int | None = None) -> TeacherProcess:
        return TeacherProcess(self.teacher_dir, ["--redis-url", self.redis.url, "--threads", "1", "--device", "cpu",
                                                 "--cache-retry-s", "1", "--metrics-port",
                                                 str(self.metrics_ports[i])], port=port).start()

    @property
    def endpoints(self) -> str:
        return ",".join(t.target for t in self.teachers)

    def kill_teacher(self, i: int, down_s: float) -> tuple[float, float]:
        killed = time.time()
        self.teachers[i].stop(signal.SIGKILL)
        log(f"teacher {self.teachers[i].target} SIGKILLed; restarting it in {down_s:.0f} s")
        time.sleep(down_s)
        self.teachers[i] = self._teacher(i, self.teachers[i].port)
        log(f"teacher {self.teachers[i].target} serving again")
        return killed, time.time()

    def kill_redis(self, down_s: float) -> tuple[float, float]:
        killed = time.time()
        self.redis.stop(signal.SIGKILL)
        log(f"redis :{self.redis.port} SIGKILLed")
        time.sleep(down_s)
        self.redis = RedisProcess(port=self.redis.port, maxmemory="256mb").start()
        log(f"redis :{self.redis.port} back (empty)")
        return killed, time.time()

    def poison_topk(self) -> int:
        """Overwrite every cached TopK answer with the same answer holding a NaN; returns how many."""
        conn, planted = redis.Redis.from_url(self.redis.url), 0
        for key in conn.scan_iter(match="kd:v1:*:topk:*", count=500):
            value = conn.get(key)
            if not isinstance(value, bytes):
                continue
            good = codec.decode_topk(value)
            logq = good.logq.copy()
            logq[0, 0] = np.nan
            conn.set(key, codec.encode_topk(TopKResult(good.ids, logq, good.rest_logmass), 1 << 16),
                     keepttl=True)
            planted += 1
        log(f"poisoned {planted} cached TopK answers with NaN")
        return planted

    def cached_topk(self) -> int:
        """How many TopK answers Redis holds now."""
        return sum(1 for _ in redis.Redis.from_url(self.redis.url).scan_iter(match="kd:v1:*:topk:*", count=500))

    def bad_values(self) -> float:
        """The teachers' `kd_teacher_cache_bad_values_total{op="topk"}`, summed over both replicas."""
        total = 0.0
        for port in self.metrics_ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
                for line in reply.read().decode().splitlines():
                    if line.startswith('kd_teacher_cache_bad_values_total{op="topk"}'):
                        total += float(line.split()[-1])
        return total

    def close(self) -> None:
        for t in self.teachers:
            t.stop(signal.SIGKILL)
        self.redis.stop()


class Gateway:
    """A gateway process over a models folder, and a client asking the good model every half second."""

    def __init__(self, root: Path, good_source: Path) -> None:
        self.root, self.port = root, free_port()
        root.mkdir(parents=True)
        shutil.copytree(good_source, root / "good")
        env = {**os.environ, "KD_GATEWAY_SETTLE_SECONDS": "0.5"}
        self.log = (root.parent / "gateway.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "services.gateway", "--models", str(root), "--port",
                                      str(self.port), "--poll-seconds", "0.5", "--threads", "1"], cwd=REPO, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        _wait(lambda: self._status("/readyz") == 200, 120, "the gateway did not become ready")
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _status(self, path: str, body: dict[str, Any] | None = None) -> int:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    def _ask(self) -> None:
        while not self._stop.wait(0.5):
            self.statuses.append(self._status("/v1/translate", {"text": "Y dijo Dios: Sea la luz.", "model": "good",
                                                                "max_length": 16}))

    def get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def drop_broken(self) -> None:
        shutil.copytree(self.root / "good", self.root.parent / "broken")
        weights = self.root.parent / "broken" / "model.bin"
        weights.write_bytes(weights.read_bytes()[: len(weights.read_bytes()) // 3])
        shutil.move(self.root.parent / "broken", self.root / "broken")
        log("dropped a broken model folder (model.bin cut to a third) beside the good one")

    def add_late(self) -> None:
        shutil.copytree(self.root / "good", self.root / "late")
        log("added a third, good folder after the broken one")

    def close(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=60)
        models = self.get("/v1/models")
        ready = self.get("/readyz")
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.log.close()
        ids = {m["id"] for m in models["models"]}
        return {"good": "good", "broken": "broken", "requests": len(self.statuses),
                "failures": sum(1 for s in self.statuses if s != 200),
                "broken_reported": "broken" in models["errors"],
                "broken_error": models["errors"].get("broken", "")[:80],
                "late_loaded": "late" in ids, "good_served": "good" in ids,
                "readyz": f"ready, failed {ready.get('failed')}" if ready.get("ready") else str(ready),
                "exit_code": code}


class RunEnded(Exception):
    """The run finished before a fault's moment came."""


def _wait(condition: Callable[[], bool], timeout_s: float, message: str, stop: threading.Event | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if stop is not None and stop.is_set():
            raise RunEnded(message)
        if time.monotonic() > deadline:
            raise SystemExit(message)
        time.sleep(0.2)


def _step(out: Path) -> int:
    return max((r["step"] for r in read_metrics(out / "metrics.jsonl") if r["event"] == "train"), default=0)


def _faults(services: Services, out: Path, steps: int, poison: bool, done: dict[str, Any],
            stop: threading.Event) -> None:
    """Inject the run's faults in order, each once the run has reached its share of the steps (a fault whose
    moment never comes, because the run ended first, is skipped and missing from `done`)."""
    def reach(fraction: float) -> None:
        _wait(lambda: _step(out) >= fraction * steps, 3600, f"step {fraction * steps:.0f}", stop)

    try:
        reach(0.15)
        done["teacher_kill"], done["teacher_back"] = services.kill_teacher(0, 10.0)
        reach(0.35)
        done["redis_kill"], done["redis_back"] = services.kill_redis(2.0)
        if poison:
            reach(0.55)
            _wait(lambda: services.cached_topk() > 0, 3600, "cached TopK answers", stop)
            before = services.bad_values()
            done["poison"] = {"planted": services.poison_topk(), "bad_before": before}
        def checkpoints() -> list[int]:
            return [r["step"] for r in read_metrics(out / "metrics.jsonl") if r["event"] == "checkpoint"]
        _wait(lambda: any(s >= 0.7 * steps for s in checkpoints()), 3600, "a checkpoint past 70%", stop)
        target = max(checkpoints()) + 1
        _wait(lambda: _step(out) >= target, 600, "a step after the checkpoint", stop)
        pid = [r for r in read_metrics(out / "metrics.jsonl") if r["event"] in ("start", "resume")][-1]["pid"]
        done["worker_kill"], done["killed_at_step"] = time.time(), _step(out)
        os.kill(pid, signal.SIGKILL)
        log(f"SIGKILLed the rank-0 Ray worker (pid {pid}) at step {done['killed_at_step']}")
    except RunEnded as exc:
        log(f"the run ended before {exc}: later faults skipped (raise --steps)")


def drill_run(name: str, kind: str, args: argparse.Namespace, services: Services, work: Path) -> dict[str, Any]:
    out = work / name
    sets = [f"max_steps={args.steps}", "log_every=1", "eval_every=0", f"checkpoint_every={args.checkpoint_every}",
            f"output_dir={out}", f"data.train={work / 'train.tsv'}", f"data.valid={work / 'valid.tsv'}",
            f"data.max_tokens={args.max_tokens}", "data.valid_sentences=4", f"student.preset={args.preset}",
            f"student.tokenizer={args.teacher}", f"teacher.endpoints={services.endpoints}", "teacher.timeout_s=20",
            "teacher.retry_budget_s=90", "ray.num_workers=2", "ray.cpus_per_worker=1", "ray.torch_threads=1",
            "ray.max_failures=3", "keep_checkpoints=2"]
    recipe = load_recipe(kind, sets)
    faults: dict[str, Any] = {}
    ended = threading.Event()
    injector = threading.Thread(target=_faults, args=(services, out, args.steps, kind == "word_kd", faults, ended),
                                daemon=True)
    log(f"{name}: {kind}, {args.steps} steps, 2 workers, teachers {services.endpoints}")
    started = time.time()
    injector.start()
    try:
        outcome = train(recipe)
    finally:
        ended.set()
        injector.join(timeout=120)
    summary = run_summary(read_metrics(out / "metrics.jsonl"), faults, args.steps, args.checkpoint_every)
    poison = None
    if "poison" in faults:
        poison = {"planted": faults["poison"]["planted"],
                  "rejected": services.bad_values() - faults["poison"]["bad_before"]}
    result = {"name": name, "kind": kind, "summary": summary, "faults": faults, "poison": poison,
              "final_steps": outcome.manifest.metrics.get("steps"), "wall_s": time.time() - started}
    log(f"{name}: {json.dumps(summary)}")
    return result


def _data(work: Path, rows: int) -> None:
    for name, count in (("train", rows), ("valid", 8)):
        lines = (DEFAULT_DATA / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[: count + 1]
        (work / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_drill(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    from s2s.export import export_checkpoint

    started, load_before = time.time(), os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kd-chaos-"))
    _data(work, args.train_rows)
    export_checkpoint(args.teacher, work / "export", "int8")
    start_local_ray(work / "ray-token", num_cpus=2, include_dashboard=False)
    services = Services(args.teacher)
    gateway = Gateway(work / "models", work / "export")
    runs = []
    try:
        gateway.drop_broken()
        runs.append(drill_run("word_kd", "word_kd", args, services, work))
        gateway.add_late()
        runs.append(drill_run("ka", "ka", args, services, work))
    finally:
        gate = gateway.close()
        services.close()
    report = {"benchmark": "chaos", "steps": args.steps, "checkpoint_every": args.checkpoint_every,
              "student": args.preset, "teacher": str(args.teacher), "max_tokens": args.max_tokens,
              "runs": runs, "gateway": gate, "wall_s": time.time() - started,
              "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()[0]},
              "command": "python -m bench.chaos " + " ".join(argv)}
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, default=DEFAULT_TEACHER, help="teacher model folder")
    parser.add_argument("--preset", default="test-micro", help="student preset")
    parser.add_argument("--steps", type=int, default=120, help="training steps per run")
    parser.add_argument("--checkpoint-every", type=int, default=10, help="steps between checkpoints")
    parser.add_argument("--max-tokens", type=int, default=400, help="batch token budget")
    parser.add_argument("--train-rows", type=int, default=300, help="training sentences (epochs repeat)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, checkpoints)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "chaos.json")
    parser.add_argument("--update-doc", type=Path, default=None, help="fill the table in this markdown file")
    args = parser.parse_args(argv)
    report = run_drill(args, argv)
    publish(report, args.out, markdown_table(report), args.update_doc, "chaos")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
