"""The order of `kd up`: serve first, distil second.

Services start (Redis, a Ray head, the teacher), the teacher's int8 export goes into the gateway's models
folder and the gateway starts serving it: within a couple of minutes a newcomer can translate. Then the
plan's distillation runs (Seq-KD data, a shrunk student, a Ray training job with progress on the console),
the student is evaluated and exported into the same folder, and the gateway's hot reload picks it up and
makes it the default model. Ctrl-C or SIGTERM stops every child, whatever step is running.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from kd.stack.pipeline import Up, UpConfig, resolve_teacher, say
from kd.stack.plan import UpPlan, load_plan
from kd.stack.processes import ChildFailed, Stack
from kd.stack.store_step import store_overrides
from s2s.checkpoint import read_manifest


def served_teacher_id(model_id: str) -> str:
    """The id the gateway serves a teacher's export under: its model id, prefixed with `teacher-` unless it
    already starts with `teacher` (`micro` -> `teacher-micro`, `teacher-bible-es-en-small` stays as it is)."""
    return model_id if model_id.startswith("teacher") else f"teacher-{model_id}"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_up(config: UpConfig) -> int:
    """Run the whole pipeline; every child is stopped when this returns, however it returns."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _run(config, load_plan(config.plan))
    except KeyboardInterrupt:
        say("stopped all services")
    return 0


def _run(config: UpConfig, plan: UpPlan) -> None:
    work = config.work_dir.resolve()
    with Stack(cwd=Path(__file__).resolve().parents[2], log_dir=work / "logs") as stack:
        up = Up(config, stack)
        up.data()
        redis_url = up.redis()
        ray_address = up.ray_head()
        teacher = resolve_teacher(config) or _train_teacher(up, ray_address, config)
        endpoint = up.teacher(teacher, redis_url)
        teacher_name = served_teacher_id(read_manifest(teacher).model_id)
        student_name = "student" if config.recipe is None else f"student-{Path(config.recipe).stem}"
        teacher_export = up.export(teacher_name, teacher)
        url = up.gateway(default_model=student_name)
        say(f"gateway: {url} serves the teacher ({teacher_name}, int8) now; the student joins when it is trained")
        student = _distil(up, plan, config, teacher, endpoint, ray_address, student_name)
        student_export = up.export(student_name, student)
        _wait_until_served(url, student_name)
        say(f"gateway: {student_name} is served and is now the default model")
        rows = [_row("teacher (PyTorch)", up.evaluate(f"{teacher_name}-torch", teacher)),
                _row("teacher (int8)", up.evaluate(f"{teacher_name}-int8", teacher_export, "ctranslate2")),
                _row(f"{student_name} (int8)", up.evaluate(f"{student_name}-int8", student_export, "ctranslate2"))]
        _print_summary(url, rows, student_name)
        if not config.exit_when_ready:
            say("serving; press Ctrl-C to stop everything")
            while True:
                time.sleep(3600)
    say("stopped all services")


def _distil(up: Up, plan: UpPlan, config: UpConfig, teacher: Path, endpoint: str, ray_address: str,
            name: str) -> Path:
    """The plan's steps: Seq-KD data, the shrunk student, the training job; returns the final student."""
    steps = config.max_steps or plan.max_steps
    sets = [f"teacher.endpoints={endpoint}", f"student.tokenizer={teacher}", f"max_steps={steps}"]
    if plan.sequence_data:
        sets.append(f"data.train={up.distill_data(endpoint, plan)}")
    if plan.shrink:
        sets.append(f"student.init_from={up.shrink(teacher, plan)}")
    recipe = config.recipe or plan.recipe
    sets += store_overrides(up, plan.teacher_store, endpoint, recipe, [*sets, *config.overrides])
    return up.train(name, recipe, ray_address, [*sets, *config.overrides], steps)


def _train_teacher(up: Up, ray_address: str, config: UpConfig) -> Path:
    say("no teacher given and no reference teacher found: training a teacher-small model first")
    tokenizer = up.paths.root / "tokenizer"
    if not (tokenizer / "vocab.json").is_file():
        up.stack.run("tokenizer", ["kd", "tokenizer", "train", "--data", str(up.paths.data / "train.tsv"),
                                   "--out", str(tokenizer)], env=up.env)
    return up.train("teacher", "nll", ray_address, ["student.preset=teacher-small",
                                                    f"student.tokenizer={tokenizer}",
                                                    f"max_steps={config.teacher_steps}"], config.teacher_steps)


def _wait_until_served(url: str, model_id: str, timeout_s: float = 120.0) -> None:
    """Poll `GET /v1/models` until the gateway's hot reload has loaded `model_id` and made it the default."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as response:
                if json.loads(response.read()).get("default_model") == model_id:
                    return
        except OSError:
            pass
        time.sleep(1.0)
    raise ChildFailed(f"the gateway did not load {model_id} within {timeout_s:.0f}s; see its log")


def _row(role: str, results: dict[str, Any]) -> dict[str, Any]:
    greedy = results["results"][0]
    return {"role": role, "model": results.get("model_id", "?"), "parameters": results.get("parameters", 0),
            "bleu": greedy["scores"]["bleu"], "chrf": greedy["scores"]["chrf"],
            "sentences_per_s": greedy["sentences_per_s"], "sentences": greedy["sentences"]}


def _print_summary(url: str, rows: list[dict[str, Any]], student: str) -> None:
    teacher, teacher_int8, served = rows
    print("\n| | model | parameters | BLEU (greedy) | chrF | sentences/s | vs teacher |", flush=True)
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        share = f"{100 * r['bleu'] / teacher['bleu']:.0f}% BLEU" if teacher["bleu"] > 0 else "- BLEU"
        ratio = f"{share}, {r['sentences_per_s'] / max(teacher_int8['sentences_per_s'], 1e-9):.2f}x int8 speed"
        print(f"| {r['role']} | {r['model']} | {r['parameters'] / 1e6:.2f} M | {r['bleu']:.2f} | {r['chrf']:.2f} "
              f"| {r['sentences_per_s']:.1f} | {ratio} |")
    print(f"(Bible es-en test set, first {teacher['sentences']} verses; sentences/s at batch 32 on this machine, "
          "int8 rows through CTranslate2 as the gateway serves them)\n")
    print(f"gateway: {url}   (page: {url}/, API docs: {url}/docs)")
    print(f"try:     curl -s {url}/v1/translate -H 'content-type: application/json' "
          f"-d '{{\"text\": \"Y dijo Dios: Sea la luz.\", \"model\": \"{student}\"}}'\n", flush=True)
