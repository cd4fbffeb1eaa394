"""The NAT table reuses a recorded paired test only while both BLEU scores are those it was computed for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.nat.table import load_nat_run, p_value

from .test_run_records import make_run

REFS = ["in the beginning god created the heaven and the earth", "and the earth was without form and void",
        "and darkness was upon the face of the deep", "and god said let there be light and there was light"]


def test_a_computed_paired_test_is_recorded_and_reused_only_for_the_same_scores(tmp_path: Path) -> None:
    runs, logs = tmp_path / "runs", tmp_path / "logs"
    make_run(runs / "ar-seq_kd", 30.0, REFS)
    make_run(runs / "ar-raw", 10.0, [r.split(" and ")[0] for r in REFS])
    system, base = load_nat_run(runs, "ar-seq_kd", logs), load_nat_run(runs, "ar-raw", logs)
    assert system is not None and base is not None
    kept: dict[str, Any] = {}
    p = p_value(system, base, "greedy", REFS, kept)
    assert p is not None and 0.0 < p <= 1.0
    assert kept == {"ar-seq_kd vs ar-raw, greedy": {"p": p, "bleu": [30.0, 10.0]}}

    (runs / "ar-raw" / "eval" / "hyp.greedy.txt").unlink()  # as in an archive made before outputs were kept
    base = load_nat_run(runs, "ar-raw", logs)
    assert base is not None
    assert p_value(system, base, "greedy", REFS, kept) == p
    stale = {"ar-seq_kd vs ar-raw, greedy": {"p": 0.5, "bleu": [29.0, 10.0]}}  # recorded for another run
    assert p_value(system, base, "greedy", REFS, stale) is None
