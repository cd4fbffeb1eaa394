"""A training run on Ray (Ray Train workers, as in production) rides through its only teacher replica being
killed and restarted on the same port: no step fails, no worker restarts."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from services.teacher.launch import TeacherProcess
from student_trainer.launch import train
from student_trainer.metrics import read_metrics
from student_trainer.recipe_io import recipe_from_dict

from .conftest import RecipeFactory


@pytest.mark.slow
def test_ka_run_finishes_every_step_when_its_teacher_is_killed_and_restarted(
        ray_cluster: str, make_recipe: RecipeFactory, micro_checkpoint: Path) -> None:
    teacher = TeacherProcess(micro_checkpoint, ["--threads", "1"]).start()
    recipe = make_recipe("ka", max_steps=12, log_every=1, checkpoint_every=4, loss={"k_prime": 4},
                         teacher={"endpoints": teacher.target, "retry_budget_s": 60, "timeout_s": 20})
    out = Path(recipe["output_dir"])
    outage: dict[str, Any] = {}

    def kill_and_restart() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(r["event"] == "train" and r["step"] >= 4 for r in read_metrics(out / "metrics.jsonl")):
                teacher.stop(signal.SIGKILL)
                outage["killed"] = time.time()
                time.sleep(10)
                restarted = TeacherProcess(micro_checkpoint, ["--threads", "1"], port=teacher.port).start()
                outage.update(restarted=time.time(), process=restarted)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_and_restart, daemon=True)
    watcher.start()
    try:
        outcome = train(recipe_from_dict(recipe))
        watcher.join(timeout=60)
    finally:
        teacher.stop(signal.SIGKILL)
        if "process" in outage:
            outage["process"].stop()
    assert "restarted" in outage, "the teacher was never killed: the run finished too early"
    assert outcome.manifest.metrics["steps"] == 12
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records if r["event"] == "train"] == list(range(1, 13))
    assert not [r for r in records if r["event"] == "resume"]
    waited = [r for r in records if r["event"] == "train" and r["time"] >= outage["killed"]]
    assert max(r["teacher_wait_s"] for r in waited) >= 5  # the step that spanned the outage waited for it
