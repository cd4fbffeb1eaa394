"""The first minutes on a GPU, as one run: the device, the teacher's engines on it, dynamic batching at eight
clients, and a 50-step Word-KD run of the trainer, each timed (`scripts/gpu_check.sh` runs this within 5 minutes).

    python -m bench.gpu_check [--dry-run] [--teacher DIR] [--data DIR] [--out FILE]

1. the device: its name, memory, torch and CUDA versions, and which optional packages are installed;
2. the teacher's engines on it (`bench.teacher_engines`): TopK, Score and Generate on PyTorch, and on
   CTranslate2 where it is installed with this device's libraries (said when not);
3. dynamic batching: TopK requests of 4 sentences from 8 concurrent clients against a teacher server on the
   device (in this process, real gRPC on loopback, no cache), batching on against off, interleaved rounds;
4. the trainer: 50 Word-KD steps of a 3/1 student on the device with the teacher in-process on the same
   device (the worker loop without Ray: `student_trainer.worker.run_local`).

`--dry-run` runs the same steps on the CPU at toy sizes (a few sentences, 3 training steps): a test runs it to
prove the plumbing. The teacher and corpus default to `../shared` beside the repository, else `.gpu-assets/`
inside it (`scripts/gpu_check.sh --prepare` fills it for a machine without `../shared`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared

REPO = Path(__file__).resolve().parents[1]
SEARCH = {"teacher": [REPO / ".gpu-assets" / "teacher", in_shared(REFERENCE_TEACHER)],
          "data": [REPO / ".gpu-assets" / "data", in_shared(BIBLE)]}
OPTIONAL = ("ctranslate2", "ray", "redis", "grpc_health", "grpc_reflection", "fastapi")


def say(message: str) -> None:
    print(f"[gpu-check] {message}", flush=True)


def find(kind: str, given: Path | None) -> Path:
    """The given folder, else the first default that exists, else a clear error saying where to put one."""
    for folder in ([given] if given else SEARCH[kind]):
        if folder.is_dir():
            return folder
    raise SystemExit(f"gpu-check: no {kind} folder: pass --{kind} DIR, or run `bash scripts/gpu_check.sh --prepare` "
                     f"where ../shared exists (it copies one to .gpu-assets/)")


def environment(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"python": sys.version.split()[0], "torch": torch.__version__,
                            "cuda": torch.version.cuda, "device": str(device),
                            "packages": {name: importlib.util.find_spec(name) is not None for name in OPTIONAL}}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                    capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count)
    else:
        info.update(name=f"CPU ({platform.machine()}, {os.cpu_count()} cores)")
    return info


def timed(what: str, call: Callable[[], Any], results: dict[str, Any], key: str) -> Any:
    start = time.perf_counter()
    say(f"{what} ...")
    value = call()
    results.setdefault("seconds", {})[key] = round(time.perf_counter() - start, 1)
    say(f"{what}: done in {results['seconds'][key]} s")
    return value


def engines(args: argparse.Namespace, teacher: Path, data: Path, device: str) -> dict[str, Any]:
    from bench import teacher_engines

    small = args.dry_run
    ns = argparse.Namespace(model=teacher, data=data / "valid.tsv", sentences=8 if small else 256,
                            generate_sentences=2 if small else 64, generate_max_len=8 if small else 128, max_len=64,
                            max_batch_tokens=8192, k=8, beam=2 if small else 5,
                            threads=1 if small else max(os.cpu_count() or 1, 1), device=device,
                            rounds=1 if small else 3, no_ct2=False)
    result = teacher_engines.run(ns)
    print(teacher_engines.markdown(result), flush=True)
    return result


def batching(args: argparse.Namespace, teacher: Path, data: Path, device: str) -> dict[str, Any]:
    """sentences/s of TopK at 8 clients, batching on and off (in-process servers on the device)."""
    from bench.teacher import load_workload, run_clients
    from s2s.tokenizer import Tokenizer
    from services.teacher.config import ServerConfig
    from services.teacher.server import TeacherServer
    from teacher_client import TeacherClient

    workload = load_workload(Tokenizer(teacher), data / "valid.tsv", 16 if args.dry_run else 256, 4, 64)
    rounds, clients = (1 if args.dry_run else 3), 8
    servers = {mode: TeacherServer(ServerConfig(model=(teacher,), port=0, host="127.0.0.1", device=device,
                                                threads=1 if args.dry_run else None, dynamic_batching=on))
               for mode, on in (("on", True), ("off", False))}
    times: dict[str, list[float]] = {mode: [] for mode in servers}
    try:
        remote = {mode: TeacherClient(f"127.0.0.1:{s.start()}", timeout_s=300) for mode, s in servers.items()}
        calls = {mode: (lambda s, t, c=client: c.topk(s, t, 8)) for mode, client in remote.items()}
        for call in calls.values():
            run_clients(call, type(workload)(workload.requests[:2], 0, 0), 1)  # warm-up
        for _ in range(rounds):
            for mode, call in calls.items():
                times[mode].append(run_clients(call, workload, clients))
        for client in remote.values():
            client.close()
    finally:
        for server in servers.values():
            server.stop(1.0)
    speed = {mode: round(workload.sentences / statistics.median(t), 1) for mode, t in times.items()}
    result = {"clients": clients, "sentences": workload.sentences, "sentences_per_s": speed,
              "batching_gain": round(speed["on"] / speed["off"], 2)}
    say(f"TopK at {clients} clients: {speed['on']} sentences/s batched, {speed['off']} unbatched: "
        f"{result['batching_gain']}x")
    return result


def word_kd(args: argparse.Namespace, teacher: Path, data: Path, device: str, work: Path) -> dict[str, Any]:
    """A short Word-KD run of the trainer on the device; tokens/s from its own metrics."""
    from student_trainer.metrics import read_metrics
    from student_trainer.recipe_io import recipe_from_dict, recipe_to_dict
    from student_trainer.worker import run_local

    steps = 3 if args.dry_run else 50
    rows = 200 if args.dry_run else 20000
    train = work / "train.tsv"
    train.write_text("\n".join((data / "train.tsv").read_text(encoding="utf-8").splitlines()[: rows + 1]) + "\n",
                     encoding="utf-8")
    recipe = {"name": "gpu-check-word-kd", "output_dir": str(work / "word_kd"), "max_steps": steps,
              "log_every": 1 if args.dry_run else 10, "eval_every": 0, "checkpoint_every": steps,
              "student": {"preset": "test-micro" if args.dry_run else "student-small", "seed": 1,
                          "tokenizer": str(teacher)},
              "teacher": {"in_process": str(teacher)},
              "data": {"train": str(train), "valid": str(data / "valid.tsv"), "max_len": 64, "valid_sentences": 8,
                       "max_tokens": 600 if args.dry_run else 8192},
              "optim": {"warmup_steps": 10}, "loss": {"kind": "word_kd", "k": 8},
              "ray": {"torch_threads": 1 if args.dry_run else 0}}
    start = time.perf_counter()
    progress = run_local(recipe_to_dict(recipe_from_dict(recipe)), device=device)
    seconds = time.perf_counter() - start
    train_rows = [r for r in read_metrics(work / "word_kd" / "metrics.jsonl") if r["event"] == "train"]
    rates = [r["tokens_per_s"] for r in train_rows[1:] or train_rows]  # the first interval includes start-up
    result = {"steps": progress.step, "seconds": round(seconds, 1),
              "target_tokens_per_s": round(statistics.median(rates)) if rates else None,
              "last_loss": train_rows[-1]["loss"] if train_rows else None}
    say(f"Word-KD: {result['steps']} steps in {result['seconds']} s, {result['target_tokens_per_s']} target tokens/s "
        f"(student {recipe['student']['preset']}, teacher in-process, device {device})")  # type: ignore[index]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU at toy sizes")
    env = {name: Path(os.environ[f"KD_GPU_CHECK_{name.upper()}"]) if os.environ.get(f"KD_GPU_CHECK_{name.upper()}")
           else None for name in ("teacher", "data", "out")}
    parser.add_argument("--teacher", type=Path, default=env["teacher"], help="env KD_GPU_CHECK_TEACHER")
    parser.add_argument("--data", type=Path, default=env["data"],
                        help="folder with train.tsv and valid.tsv (env KD_GPU_CHECK_DATA)")
    parser.add_argument("--out", type=Path, default=env["out"],
                        help="results JSON (env KD_GPU_CHECK_OUT; default bench/results/gpu-check.json)")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        say(f"no CUDA device visible to torch {torch.__version__} (CUDA {torch.version.cuda}); "
            "run with --dry-run to check the plumbing on the CPU")
        return 2
    device = "cpu" if args.dry_run else "cuda"
    teacher, data = find("teacher", args.teacher), find("data", args.data)
    out = args.out or (Path(tempfile.gettempdir()) / "gpu-check-dry-run.json" if args.dry_run
                       else REPO / "bench" / "results" / "gpu-check.json")
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "dry_run": args.dry_run,
                               "environment": environment(torch.device(device)), "teacher": str(teacher)}
    found = results["environment"]
    say(f"device: {found['name']} ({device}); torch {found['torch']}, CUDA {found['cuda']}; optional packages: "
        + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in found["packages"].items()))
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        results["engines"] = timed("teacher engines (TopK, Score, Generate)",
                                   lambda: engines(args, teacher, data, device), results, "engines")
        results["batching"] = timed("dynamic batching at 8 clients",
                                    lambda: batching(args, teacher, data, device), results, "batching")
        results["word_kd"] = timed("Word-KD training", lambda: word_kd(args, teacher, data, device, Path(work)),
                                   results, "word_kd")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    say(f"all steps done on {found['name']} in {sum(results['seconds'].values()):.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
