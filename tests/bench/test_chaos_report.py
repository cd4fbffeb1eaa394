"""The chaos drill's numbers from a trainer's metrics records (`bench.chaos_report`)."""

from __future__ import annotations

from typing import Any

from bench.chaos_report import markdown_table, restarts, run_summary


def _train(step: int, t: float, wait: float = 0.1, hit: float | None = 0.5, loss: float = 2.0) -> dict[str, Any]:
    return {"event": "train", "step": step, "time": t, "teacher_wait_s": wait, "cache_hit_rate": hit, "loss": loss}


def _history() -> list[dict[str, Any]]:
    """Steps 1-9 at t = step; a teacher outage around step 3; the kill after step 9 (t 9.5) resumes from 5;
    a second, unintended restart after step 8 of the second pass resumes from 5 again."""
    records = [{"event": "start", "pid": 1, "time": 0.0}]
    records += [_train(s, float(s), wait=8.0 if s == 3 else 0.1, hit=0.9 if s < 6 else 0.2) for s in range(1, 10)]
    records += [{"event": "resume", "from_step": 5, "pid": 2, "time": 10.0}]
    records += [_train(s, 10.0 + s) for s in range(6, 9)]
    records += [{"event": "resume", "from_step": 5, "pid": 3, "time": 20.0}]
    records += [_train(s, 20.0 + s) for s in range(6, 13)]
    records += [{"event": "nonfinite_step", "after_step": 7, "time": 26.5}]
    return records


def test_restarts_know_what_each_redid() -> None:
    found = restarts(_history())
    assert [(r["from_step"], r["last_step"], r["lost_steps"]) for r in found] == [(5, 9, 4), (5, 8, 3)]


def test_the_kill_s_restart_is_told_apart_from_failures() -> None:
    faults = {"teacher_kill": 2.5, "teacher_back": 3.5, "redis_kill": 5.5, "redis_back": 6.5, "worker_kill": 9.5}
    summary = run_summary(_history(), faults, max_steps=12, checkpoint_every=5)
    assert summary["steps"] == 12 and summary["worker_restarts"] == 2
    assert summary["steps_lost_to_worker_kill"] == 4
    assert summary["unintended_restarts"] == 1 and summary["failed_steps"] == 3 + 1
    assert summary["nonfinite_steps"] == 1
    assert summary["longest_teacher_wait_s"] == 8.0
    assert summary["cache_hit_rate_before_redis_kill"] == 0.9
    assert 0.2 <= summary["cache_hit_rate_after_redis_back"] < 0.9


def test_a_clean_run_has_no_failed_steps_and_the_table_says_so() -> None:
    records = [{"event": "start", "pid": 1, "time": 0.0}, *[_train(s, float(s)) for s in range(1, 7)],
               {"event": "resume", "from_step": 4, "pid": 2, "time": 6.5}, *[_train(s, 6.5 + s) for s in range(5, 9)]]
    summary = run_summary(records, {"worker_kill": 6.2}, max_steps=8, checkpoint_every=4)
    assert (summary["failed_steps"], summary["steps_lost_to_worker_kill"], summary["nonfinite_steps"]) == (0, 2, 0)
    report = {"runs": [{"name": "word_kd", "summary": summary, "poison": {"planted": 40, "rejected": 40.0}},
                       {"name": "ka", "summary": summary, "poison": None}],
              "gateway": {"good": "good", "broken": "broken", "requests": 300, "failures": 0, "broken_reported": True,
                          "broken_error": "RuntimeError: ...", "late_loaded": True, "readyz": "ready"},
              "machine": {"cpus": 2, "load_before": 3.0, "load_after": 4.5}, "wall_s": 600.0,
              "command": "python -m bench.chaos"}
    table = markdown_table(report)
    assert "| word_kd | 8/8 | 0 | 2 (4) | 0 | 40 / 40 |" in table
    assert "| ka | 8/8 | 0 | 2 (4) | 0 | - (KA asks Score, not cached) |" in table
    assert "| good beside broken | 300 | 0 | yes (RuntimeError: ...) | yes | ready |" in table
    assert "load average 3.0 before and 4.5 after" in table
