"""The NAT table reads a run from runs/ or, once runs/ is gone, from its committed logs, and reuses a recorded
paired test only while both BLEU scores are those it was computed for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.nat.table import load_run, p_value

REFS = ["in the beginning god created the heaven and the earth", "and the earth was without form and void",
        "and darkness was upon the face of the deep", "and god said let there be light and there was light"]


def _run(folder: Path, bleu: float, hyps: list[str] | None) -> None:
    """A finished run: metrics, test results and (optionally) the greedy hypotheses."""
    (folder / "eval").mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(json.dumps({"event": "train", "step": 10, "time": 0.0}) + "\n"
                                          + json.dumps({"event": "train", "step": 20, "time": 120.0}) + "\n")
    results = {"results": [{"decoding": "greedy", "scores": {"bleu": bleu}}]}
    (folder / "eval" / "results.json").write_text(json.dumps(results))
    if hyps is not None:
        (folder / "eval" / "hyp.greedy.txt").write_text("\n".join(hyps) + "\n")


def test_a_run_is_read_from_runs_else_from_its_committed_logs(tmp_path: Path) -> None:
    runs, logs = tmp_path / "runs", tmp_path / "logs"
    _run(runs / "ar-raw", 20.0, REFS)
    logs.mkdir()
    (logs / "metrics-ar-seq_kd.jsonl").write_text(json.dumps({"event": "eval", "step": 5, "valid_bleu": 1.0}) + "\n")
    (logs / "eval-ar-seq_kd.json").write_text(json.dumps({"results": [{"decoding": "greedy",
                                                                        "scores": {"bleu": 25.5}}]}))
    live, logged = load_run(runs, "ar-raw", logs), load_run(runs, "ar-seq_kd", logs)
    assert live is not None and live.bleu("greedy") == 20.0 and live.train_minutes() == 2.0
    assert live.has_hypotheses("greedy")
    assert logged is not None and logged.bleu("greedy") == 25.5 and logged.events("eval")[0]["step"] == 5
    assert logged.run_dir is None and not logged.has_hypotheses("greedy")
    assert load_run(runs, "ar-seq_inter", logs) is None


def test_a_computed_paired_test_is_recorded_and_reused_only_for_the_same_scores(tmp_path: Path) -> None:
    _run(tmp_path / "runs" / "ar-seq_kd", 30.0, REFS)
    _run(tmp_path / "runs" / "ar-raw", 10.0, [r.split(" and ")[0] for r in REFS])
    system, base = (load_run(tmp_path / "runs", n) for n in ("ar-seq_kd", "ar-raw"))
    assert system is not None and base is not None
    kept: dict[str, Any] = {}
    p = p_value(system, base, "greedy", REFS, kept)
    assert p is not None and 0.0 < p <= 1.0
    assert kept == {"ar-seq_kd vs ar-raw, greedy": {"p": p, "bleu": [30.0, 10.0]}}

    (tmp_path / "runs" / "ar-raw" / "eval" / "hyp.greedy.txt").unlink()  # only the logs are left
    base = load_run(tmp_path / "runs", "ar-raw")
    assert base is not None
    assert p_value(system, base, "greedy", REFS, kept) == p
    stale = {"ar-seq_kd vs ar-raw, greedy": {"p": 0.5, "bleu": [29.0, 10.0]}}  # another run of the system
    assert p_value(system, base, "greedy", REFS, stale) is None
