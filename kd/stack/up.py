"""The order of `kd up`: serve first, distil second.

Services start (Redis, a Ray head, the teacher), the teacher's int8 export goes into the gateway's models
folder and the gateway starts serving it: within a couple of minutes a newcomer can translate. Then the
plan's distillation runs (Seq-KD data, a shrunk student, a Ray training job with progress on the console),
the student is evaluated and exported into the same folder, and the gateway's hot reload picks it up and
makes it the default model. Ctrl-C or SIGTERM stops every child, whatever step is running.
"""

from __future__ import annotations

import json
import shlex
import signal
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from kd.stack.config import UpConfig
from kd.stack.pipeline import Up, resolve_teacher, resolve_teachers, say
from kd.stack.plan import UpPlan, load_plan
from kd.stack.processes import ChildFailed, Stack
from kd.stack.store_step import store_overrides
from s2s.checkpoint import read_manifest
from s2s.errors import KDError
from s2s.families.registry import load_tokenizer
from s2s.tokenizer import Tokenizer
from student_trainer.recipe_io import load_recipe


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
        given = resolve_teacher(config)
        members = resolve_teachers(config)
        up.claim_work_dir(" + ".join(str(t) for t in members) if members else str(given or "trained on the corpus"))
        data = up.data()
        redis_url_file = up.redis()
        ray_address = up.ray_head()
        teacher = given or _train_teacher(up, ray_address, config)
        endpoint = up.teacher(teacher, redis_url_file)
        teacher_name = served_teacher_id(read_manifest(teacher, languages=config.direction).model_id)
        student_name = student_id(config)
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
        _print_summary(url, rows, student_name, config, _example_source(data / "test.tsv", config.src))
        if not config.exit_when_ready:
            say("serving; press Ctrl-C to stop everything")
            while True:
                time.sleep(3600)
    say("stopped all services")


def student_id(config: UpConfig) -> str:
    """The served student's id: `student`, plus the recipe's and the plan's names when they are not the
    defaults (so that one work folder can hold students of several recipes or plans, sharing the teacher's
    export and Seq-KD data)."""
    parts = ["student"]
    if config.recipe is not None:
        parts.append(Path(config.recipe).stem)
    if config.plan != "default":
        parts.append(Path(config.plan).stem)
    return "-".join(parts)


def student_vocabulary(plan: UpPlan, teacher: Path, config: UpConfig) -> str:
    """`teacher` or `own`: the plan's choice, `auto` resolved (the teacher's when it is a Marian model with
    one joint vocabulary in the project's layout, else the student's own)."""
    if plan.student_vocab != "auto":
        return plan.student_vocab
    try:
        tokenizer = load_tokenizer(teacher, config.direction)
    except KDError:
        return "own"
    return "teacher" if isinstance(tokenizer, Tokenizer) and not tokenizer.separate else "own"


def _distil(up: Up, plan: UpPlan, config: UpConfig, teacher: Path, endpoint: str, ray_address: str,
            name: str) -> Path:
    """The plan's steps: Seq-KD data, the student (shrunk teacher, or a fresh one with its own vocabulary),
    the training job; returns the final student."""
    steps = config.max_steps or plan.max_steps
    recipe = config.recipe or plan.recipe
    vocab = student_vocabulary(plan, teacher, config)
    if vocab == "own":
        return _distil_own_vocabulary(up, plan, config, recipe, endpoint, ray_address, name, steps)
    sets = [f"teacher.endpoints={endpoint}", f"student.tokenizer={teacher}", f"max_steps={steps}"]
    if plan.sequence_data:
        sets.append(f"data.train={up.distill_data(endpoint, plan)}")
    if plan.shrink:
        sets.append(f"student.init_from={up.shrink(teacher, plan)}")
    sets += store_overrides(up, plan.teacher_store, endpoint, recipe, [*sets, *config.overrides])
    return up.train(name, recipe, ray_address, [*sets, *config.overrides], steps)


def _distil_own_vocabulary(up: Up, plan: UpPlan, config: UpConfig, recipe: str, endpoint: str,
                           ray_address: str, name: str, steps: int) -> Path:
    """Sequence-level distillation into a student with its own vocabulary: the teacher translates the
    training set, a tokenizer is trained on the sources and those translations, and a fresh model of the
    plan's preset learns from them (a word-level objective is refused: it needs one vocabulary)."""
    loaded = load_recipe(recipe, list(config.overrides))
    if loaded.uses_teacher:
        raise KDError(f"recipe {recipe!r} distils at the word level (loss.kind={loaded.loss.kind}), which needs the "
                      "student to share the teacher's vocabulary, and this student has its own. Use a "
                      "sequence-level recipe (the default plan's up_student: NLL on the teacher's translations), "
                      "or a Marian teacher with one joint vocabulary and `student_vocab: teacher` in the plan")
    if not plan.sequence_data:
        raise KDError("a student with its own vocabulary learns from the teacher's translations: the plan needs "
                      "sequence_data: true")
    seq_data = up.distill_data(endpoint, plan)
    tokenizer = up.student_tokenizer(seq_data, plan.vocab_size)
    say(f"student: a fresh {plan.student_preset} model on its own {plan.vocab_size:,}-piece vocabulary "
        "(sequence-level distillation)")
    sets = [f"student.tokenizer={tokenizer}", f"student.preset={plan.student_preset}", f"max_steps={steps}",
            f"data.train={seq_data}"]
    return up.train(name, recipe, ray_address, [*sets, *config.overrides], steps)


def _train_teacher(up: Up, ray_address: str, config: UpConfig) -> Path:
    say("no teacher given (and none bundled for this corpus): training a teacher-small model on it first")
    tokenizer = up.paths.root / "tokenizer"
    if not (tokenizer / "vocab.json").is_file():
        up.stack.run("tokenizer", ["kd", "tokenizer", "train", "--data", str(up.paths.data / "train.tsv"),
                                   "--src", config.src, "--tgt", config.tgt, "--out", str(tokenizer)], env=up.env)
    steps = config.teacher_steps
    # The reference teacher's recipe; its 1,000 warm-up steps suit its 2,800-step run, a shorter budget
    # warms up over its first quarter instead.
    return up.train("teacher", "teacher_small", ray_address, [
        f"student.tokenizer={tokenizer}", f"max_steps={steps}", f"optim.warmup_steps={min(1000, max(1, steps // 4))}",
        f"eval_every={min(500, steps)}", f"checkpoint_every={min(500, steps)}"], steps)


def _example_source(test_tsv: Path, src: str) -> str:
    """The first source sentence of the test set, for the `curl` line people copy."""
    with test_tsv.open(encoding="utf-8") as f:
        header, row = f.readline().rstrip("\n").split("\t"), f.readline().rstrip("\n").split("\t")
    return row[header.index(src)] if src in header and len(row) == len(header) else "Hello."


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


def _print_summary(url: str, rows: list[dict[str, Any]], student: str, config: UpConfig, example: str) -> None:
    teacher, teacher_int8, served = rows
    print("\n| | model | parameters | BLEU (greedy) | chrF | sentences/s | vs teacher |", flush=True)
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        share = f"{100 * r['bleu'] / teacher['bleu']:.0f}% BLEU" if teacher["bleu"] > 0 else "- BLEU"
        ratio = f"{share}, {r['sentences_per_s'] / max(teacher_int8['sentences_per_s'], 1e-9):.2f}x int8 speed"
        print(f"| {r['role']} | {r['model']} | {r['parameters'] / 1e6:.2f} M | {r['bleu']:.2f} | {r['chrf']:.2f} "
              f"| {r['sentences_per_s']:.1f} | {ratio} |")
    spec = config.corpus
    corpus = "the Bible" if spec is None else (spec.test.name if spec.test else f"{spec.data.name} (split off)")
    print(f"(test set of {corpus}, {config.src}-{config.tgt}, first {teacher['sentences']} sentences; sentences/s "
          "at batch 32 on this machine, int8 rows through CTranslate2 as the gateway serves them)\n")
    print(f"gateway: {url}   (page: {url}/, API docs: {url}/docs)")
    body = shlex.quote(json.dumps({"text": example, "model": student}, ensure_ascii=False))
    print(f"try:     curl -s {url}/v1/translate -H 'content-type: application/json' -d {body}\n", flush=True)
