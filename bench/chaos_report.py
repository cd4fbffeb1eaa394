"""What a chaos drill run did, read from the trainer's own `metrics.jsonl`, and the drill's Markdown table.

Pure functions on records, so that the numbers are checked by unit tests, not only by running the drill.
The trainer logs `start` / `resume` events (with the step a restarted worker resumed from), one `train`
record per step (`log_every=1` in the drill) and a `nonfinite_step` event for each skipped step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Record = dict[str, Any]


def restarts(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Every worker restart: when, the step it resumed from, the last step the workers had trained since the
    previous (re)start, and so the steps it redid."""
    out, last = [], None
    for r in sorted(records, key=lambda r: r["time"]):
        if r["event"] == "train":
            last = r["step"]
        elif r["event"] == "resume":
            reached = r["from_step"] if last is None else last
            out.append({"time": r["time"], "from_step": r["from_step"], "last_step": reached,
                        "lost_steps": max(reached - r["from_step"], 0)})
            last = None
    return out


def run_summary(records: Sequence[Record], faults: dict[str, float], max_steps: int,
                checkpoint_every: int) -> dict[str, Any]:
    """The drill's numbers for one training run.

    `faults` maps a fault's name to the time it was injected (`worker_kill`, `teacher_kill`,
    `teacher_back`, `redis_kill`, `redis_back`). The first restart after `worker_kill` is the one the kill
    caused; any other restart is a step that failed (a teacher or Redis fault that the client's retries
    or the cache's fallback did not absorb), and the steps it redid are counted as failed steps.
    """
    train = [r for r in records if r["event"] == "train"]
    all_restarts = restarts(records)
    kill = faults.get("worker_kill")
    caused = next((r for r in all_restarts if kill is not None and r["time"] > kill), None)
    unintended = [r for r in all_restarts if r is not caused]
    outage = [r for r in train if faults.get("teacher_kill", 1e18) <= r["time"]
              <= faults.get("teacher_back", 0) + 30]
    return {
        "steps": max((r["step"] for r in train), default=0),
        "max_steps": max_steps,
        "checkpoint_every": checkpoint_every,
        "worker_restarts": len(all_restarts),
        "failed_steps": sum(r["lost_steps"] for r in unintended) + len(unintended),
        "unintended_restarts": len(unintended),
        "steps_lost_to_worker_kill": caused["lost_steps"] if caused else None,
        "nonfinite_steps": sum(1 for r in records if r["event"] == "nonfinite_step"),
        "longest_teacher_wait_s": max((r["teacher_wait_s"] for r in outage), default=0.0),
        "cache_hit_rate_before_redis_kill": _mean_rate(train, None, faults.get("redis_kill")),
        "cache_hit_rate_after_redis_back": _mean_rate(train, faults.get("redis_back"), None),
        "losses_finite": all(r["loss"] == r["loss"] and abs(r["loss"]) != float("inf") for r in train),
    }


def _mean_rate(train: Sequence[Record], after: float | None, before: float | None) -> float | None:
    rates = [r["cache_hit_rate"] for r in train if r.get("cache_hit_rate") is not None
             and (after is None or r["time"] > after) and (before is None or r["time"] < before)]
    return sum(rates) / len(rates) if rates else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def markdown_table(report: dict[str, Any]) -> str:
    """The runs' table, the gateway's line and the machine's load, as docs/chaos.md shows them."""
    lines = ["| run | steps | failed steps (teacher, Redis faults) | steps lost to the worker kill "
             "(checkpoint every) | NaN / skipped steps | poisoned cache values planted / rejected | "
             "longest teacher wait in the outage | cache hit rate before Redis kill / after restart |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in report["runs"]:
        s = run["summary"]
        poison = run.get("poison") or {}
        planted = f"{poison['planted']} / {poison['rejected']:.0f}" if poison else "- (KA asks Score, not cached)"
        lost = "- (not killed)" if s["steps_lost_to_worker_kill"] is None else s["steps_lost_to_worker_kill"]
        lines.append(f"| {run['name']} | {s['steps']}/{s['max_steps']} | {s['failed_steps']} | "
                     f"{lost} ({s['checkpoint_every']}) | {s['nonfinite_steps']} | "
                     f"{planted} | {s['longest_teacher_wait_s']:.1f} s | "
                     f"{_pct(s['cache_hit_rate_before_redis_kill'])} / {_pct(s['cache_hit_rate_after_redis_back'])} |")
    g = report["gateway"]
    lines += ["", "| gateway | requests to the good model | answers other than 200 | broken folder reported | "
              "folder added after it loaded | /readyz |", "| --- | --- | --- | --- | --- | --- |",
              f"| {g['good']} beside {g['broken']} | {g['requests']} | {g['failures']} | "
              f"{'yes' if g['broken_reported'] else 'no'} ({g['broken_error']}) | "
              f"{'yes' if g['late_loaded'] else 'no'} | {g['readyz']} |"]
    m = report["machine"]
    lines += ["", f"Machine: {m['cpus']} cores, load average {m['load_before']:.1f} before and "
              f"{m['load_after']:.1f} after (other work shared the cores); drill wall time "
              f"{report['wall_s'] / 60:.1f} min. Command: `{report['command']}`."]
    return "\n".join(lines)
