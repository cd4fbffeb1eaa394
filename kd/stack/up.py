"""The order of `kd up`: services, distillation, evaluation, export, gateway, then wait for Ctrl-C/SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from kd.stack.pipeline import Up, UpConfig, resolve_teacher, say
from kd.stack.processes import Stack


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_up(config: UpConfig) -> int:
    """Run the whole pipeline; every child is stopped when this returns, however it returns."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _run(config)
    except KeyboardInterrupt:
        say("stopped all services")
    return 0


def _run(config: UpConfig) -> None:
    work = config.work_dir.resolve()
    with Stack(cwd=Path(__file__).resolve().parents[2], log_dir=work / "logs") as stack:
        up = Up(config, stack)
        up.data()
        redis_url = up.redis()
        ray_address = up.ray_head()
        teacher = resolve_teacher(config) or _train_teacher(up, ray_address, config)
        endpoint = up.teacher(teacher, redis_url)
        # A short run wants short warm-up and small batches (more updates per minute on 2 cores); the
        # recipes' 1,000 warm-up steps and 4,096-token batches suit full-length training.
        sets = [f"teacher.endpoints={endpoint}", f"student.tokenizer={teacher}", f"max_steps={config.max_steps}",
                f"optim.warmup_steps={max(1, config.max_steps // 6)}", "optim.lr=0.002", "data.max_tokens=2048",
                *config.overrides]
        student = up.train(f"student-{config.recipe}", config.recipe, ray_address, sets)
        rows = [_row("teacher", teacher, up.evaluate("teacher", teacher)),
                _row(f"student ({config.recipe})", student, up.evaluate(f"student-{config.recipe}", student))]
        up.export(f"student-{config.recipe}", student)
        url = up.gateway()
        _print_summary(url, rows, config.recipe)
        if not config.exit_when_ready:
            say("serving; press Ctrl-C to stop everything")
            while True:
                time.sleep(3600)
    say("stopped all services")


def _train_teacher(up: Up, ray_address: str, config: UpConfig) -> Path:
    say("no teacher given and no reference teacher found: training a teacher-small model first")
    tokenizer = up.paths.root / "tokenizer"
    if not (tokenizer / "vocab.json").is_file():
        up.stack.run("tokenizer", ["kd", "tokenizer", "train", "--data", str(up.paths.data / "train.tsv"),
                                   "--out", str(tokenizer)], env=up.env)
    return up.train("teacher", "nll", ray_address, ["student.preset=teacher-small",
                                                    f"student.tokenizer={tokenizer}",
                                                    f"max_steps={config.teacher_steps}"])


def _row(role: str, model: Path, results: dict[str, Any]) -> dict[str, Any]:
    greedy = results["results"][0]
    return {"role": role, "model": results.get("model_id", model.name), "parameters": results.get("parameters", 0),
            "bleu": greedy["scores"]["bleu"], "chrf": greedy["scores"]["chrf"],
            "sentences_per_s": greedy["sentences_per_s"], "sentences": greedy["sentences"]}


def _print_summary(url: str, rows: list[dict[str, Any]], recipe: str) -> None:
    print("\n| | model | parameters | BLEU (greedy) | chrF | sentences/s (PyTorch, greedy) |", flush=True)
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['role']} | {r['model']} | {r['parameters'] / 1e6:.2f} M | {r['bleu']:.2f} | {r['chrf']:.2f} "
              f"| {r['sentences_per_s']:.1f} |")
    print(f"(Bible es-en test set, first {rows[0]['sentences']} verses)\n")
    print(f"gateway: {url}   (page: {url}/, API docs: {url}/docs)")
    print(f"try:     curl -s {url}/v1/translate -H 'content-type: application/json' "
          f"-d '{{\"text\": \"Y dijo Dios: Sea la luz.\", \"model\": \"student-{recipe}\"}}'\n", flush=True)
