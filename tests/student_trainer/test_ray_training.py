"""The trainer on real local Ray (Ray Train), with the real teacher server and Redis cache.

One Ray instance serves the whole session (`ray_cluster`); each test is one short Ray Train run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from s2s.checkpoint import read_manifest
from s2s.errors import VocabularyMismatchError
from student_trainer.launch import train
from student_trainer.metrics import read_metrics
from student_trainer.recipe_io import RecipeError, recipe_from_dict

from .conftest import REPO, RecipeFactory


def _events(out: Path, name: str) -> list[dict[str, Any]]:
    return [r for r in read_metrics(out / "metrics.jsonl") if r["event"] == name]


def test_killed_worker_restarts_from_its_checkpoint_then_resume_extends_the_run(
        ray_cluster: str, make_recipe: RecipeFactory) -> None:
    recipe = make_recipe("word_kd", max_steps=20, log_every=3, checkpoint_every=3, loss={"k": 4})
    out = Path(recipe["output_dir"])
    killed: dict[str, Any] = {}

    def kill_after_a_checkpoint() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = [r["step"] for r in _events(out, "checkpoint")]
            if done and done[-1] >= 6:
                pid = _events(out, "start")[0]["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, reported=done)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_after_a_checkpoint, daemon=True)
    watcher.start()
    outcome = train(recipe_from_dict(recipe))
    watcher.join(timeout=5)
    assert killed, "the worker finished before it could be killed"
    resumes = _events(out, "resume")
    assert len(resumes) == 1 and resumes[0]["pid"] != killed["pid"]
    # Restarted from the newest checkpoint the worker had logged before the kill (or one logged in the
    # instant between reading the log and the kill): a checkpoint is logged only once Ray Train committed it.
    assert resumes[0]["from_step"] >= killed["reported"][-1] >= 6
    steps_after = [r["step"] for r in _events(out, "train") if r["time"] > resumes[0]["time"]]
    assert steps_after[0] == resumes[0]["from_step"] + 3 and steps_after[-1] == 18
    assert outcome.manifest.metrics["steps"] == 20

    longer = recipe_from_dict({**recipe, "max_steps": 23})
    with pytest.raises(RecipeError, match="already holds a run; pass --resume"):
        train(longer)
    extended = train(longer, resume=True)
    assert _events(out, "resume")[-1]["from_step"] == 20
    assert extended.manifest.metrics["steps"] == 23


@pytest.mark.slow
def test_two_workers_train_and_a_killed_worker_resumes_the_pair(ray_cluster: str, make_recipe: RecipeFactory) -> None:
    """Two data-parallel workers (gloo on the 2-CPU test cluster): the `no_sync` paths and the per-step
    collectives run; a worker killed after a checkpoint brings both back from it, and the run finishes."""
    recipe = make_recipe("word_kd", max_steps=16, log_every=2, checkpoint_every=4, loss={"k": 4},
                         ray={"num_workers": 2, "cpus_per_worker": 1})
    out = Path(recipe["output_dir"])
    killed: dict[str, Any] = {}

    def kill_after_a_checkpoint() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            # After the second checkpoint: the first has surely been registered by Ray Train (a report still
            # in flight when a worker dies is lost with it).
            if any(r["step"] >= 8 for r in _events(out, "checkpoint")):
                pid = _events(out, "start")[0]["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_after_a_checkpoint, daemon=True)
    watcher.start()
    outcome = train(recipe_from_dict(recipe))
    watcher.join(timeout=5)
    assert killed, "the run finished before a worker could be killed"
    starts, resumes = _events(out, "start"), _events(out, "resume")
    assert starts[0]["world"] == 2 and len(resumes) == 1 and resumes[0]["world"] == 2
    assert resumes[0]["from_step"] >= 4 and resumes[0]["pid"] != killed["pid"]
    assert outcome.manifest.metrics["steps"] == 16


def test_vocabulary_mismatch_is_refused_before_training(ray_cluster: str, make_recipe: RecipeFactory,
                                                        other_tokenizer: Path) -> None:
    recipe = make_recipe("word_kd", student={"tokenizer": str(other_tokenizer)})
    with pytest.raises(VocabularyMismatchError, match="vocabulary mismatch"):
        train(recipe_from_dict(recipe))
    out = Path(recipe["output_dir"])
    assert not (out / "checkpoints").exists() and not _events(out, "train")


def _cli(args: list[str], ray_address: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAY_ADDRESS": ray_address, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _progress_shown(line: str, proc: subprocess.CompletedProcess[str], since: float) -> bool:
    """Whether the worker's progress `line` reached the CLI's console, or else the worker's stdout log that
    Ray forwards to it: a driver that connects to a running cluster gets worker output through Ray's log
    monitor, asynchronously, and may exit before a short run's lines arrive (seen in CI on quiet cores)."""
    if line in proc.stdout + proc.stderr:
        return True
    import ray

    session = Path(ray._private.worker._global_node.get_session_dir_path())
    logs = [p for p in (session / "logs").glob("worker-*.out") if p.stat().st_mtime >= since]
    return any(line in p.read_text(encoding="utf-8", errors="replace") for p in logs)


def test_ka_recipe_runs_end_to_end_as_a_job_and_its_loss_falls(ray_cluster: str, make_recipe: RecipeFactory,
                                                               tmp_path: Path) -> None:
    """`python -m student_trainer --recipe FILE --set ...` on the running cluster (RAY_ADDRESS), KA loss."""
    recipe = make_recipe("ka", log_every=4, checkpoint_every=8, loss={"lam": 0.5, "k_prime": 4})
    path = tmp_path / "ka.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    started = time.time()
    proc = _cli(["-m", "student_trainer", "--recipe", str(path), "--set", "max_steps=20"], ray_cluster)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(recipe["output_dir"])
    assert _progress_shown("[trainer] step 4 epoch 0 | loss", proc, since=started)
    assert f"final student {out / 'final'}" in proc.stdout
    train_records = _events(out, "train")
    losses = [r["loss"] for r in train_records]
    assert len(losses) == 5 and losses[-1] < losses[0] - 0.05, losses
    assert all("distill" in r and "teacher_wait_s" in r for r in train_records)
    assert _progress_shown("| 4/20 steps (20%), about ", proc, since=started)  # the budget, and the time left
    assert train_records[-1]["eta_s"] == 0 and train_records[0]["eta_s"] > 0
    manifest = read_manifest(out / "final")
    assert manifest.parent_teacher == "micro" and manifest.metrics["steps"] == 20
    assert manifest.recipe["loss"]["kind"] == "ka" and manifest.recipe["max_steps"] == 20
    assert {"valid_bleu", "valid_chrf", "valid_nll"} <= set(manifest.metrics)
    assert list((out / "checkpoints").glob("checkpoint_*"))  # kept by Ray Train
