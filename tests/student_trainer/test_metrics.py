"""The trainer's progress lines: what a person watching a long run reads, and the JSON records beside them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from student_trainer.metrics import MetricsLog, format_duration, read_metrics


def test_a_step_budget_shows_the_steps_done_and_the_time_left_at_the_interval_pace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 150.0, 150.0])  # the interval runs from 100 s to 150 s, 50 steps: 1 s a step
    monkeypatch.setattr("student_trainer.metrics.time.perf_counter", lambda: next(clock))
    log = MetricsLog(tmp_path / "metrics.jsonl", rank=0, total_steps=2500)
    for _ in range(50):
        log.add({"loss": 2.0, "nll": 2.0}, target_tokens=100)
    record = log.emit(step=50, epoch=0, lr=1e-3, wait_s=0.0, cache=(0, 0))
    line = capsys.readouterr().out.strip()
    assert record["eta_s"] == pytest.approx(2450.0)
    assert line.endswith("| 50/2500 steps (2%), about 41 min left")
    assert re.search(r"\[trainer\] step 50 epoch 0 \| loss 2\.0000 nll 2\.0000 \|.*\| 100 tok/s", line)
    assert read_metrics(tmp_path / "metrics.jsonl")[0]["eta_s"] == pytest.approx(2450.0)


def test_without_a_step_budget_the_line_says_nothing_of_time_left(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl", rank=0)
    log.add({"loss": 1.0}, target_tokens=10)
    record = log.emit(step=1, epoch=0, lr=1e-3, wait_s=0.0, cache=(0, 0))
    assert "eta_s" not in record and capsys.readouterr().out.rstrip().endswith("cache hit -")
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["step"] == 1


def test_other_ranks_print_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = MetricsLog(None, rank=1, total_steps=10)
    log.add({"loss": 1.0}, target_tokens=10)
    log.emit(step=1, epoch=0, lr=1e-3, wait_s=0.0, cache=(0, 0))
    assert capsys.readouterr().out == "" and not list(tmp_path.iterdir())


def test_a_validation_inside_the_interval_counts_neither_as_training_time_nor_as_time_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the interval runs from 0 s to 100 s, of which 60 s (from 20 s to 80 s) are spent validating
    clock = iter([0.0, 20.0, 80.0, 100.0, 100.0])
    monkeypatch.setattr("student_trainer.metrics.time.perf_counter", lambda: next(clock))
    log = MetricsLog(None, rank=0, total_steps=100)
    for _ in range(10):
        log.add({"loss": 1.0}, target_tokens=40)
    with log.paused():  # from 20 s to 80 s
        pass
    record = log.emit(step=10, epoch=0, lr=1e-3, wait_s=4.0, cache=(0, 0))
    assert record["interval_s"] == pytest.approx(40.0)  # 100 s less the 60 s pause
    assert record["tokens_per_s"] == pytest.approx(10.0) and record["teacher_wait_frac"] == pytest.approx(0.1)
    assert record["eta_s"] == pytest.approx(90 * 4.0)  # 4 s a step, 90 steps to go


def test_durations_read_as_people_say_them() -> None:
    assert [format_duration(s) for s in (42, 420, 3900)] == ["42 s", "7 min", "1 h 05 min"]
