"""A run archived into the repository reads back as the run itself, test outputs included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from experiments.run_records import load_run

REPO = Path(__file__).resolve().parents[2]


def make_run(folder: Path, bleu: float, hyps: list[str] | None) -> Path:
    """A finished run: two train events two minutes apart, an eval event, greedy test results and outputs."""
    (folder / "eval").mkdir(parents=True)
    events = [{"event": "train", "step": 10, "time": 0.0}, {"event": "eval", "step": 10, "valid_bleu": 1.5},
              {"event": "train", "step": 20, "time": 120.0}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    results = {"results": [{"decoding": "greedy", "scores": {"bleu": bleu, "chrf": 50.0}}]}
    (folder / "eval" / "results.json").write_text(json.dumps(results))
    if hyps is not None:
        (folder / "eval" / "hyp.greedy.txt").write_text("\n".join(hyps) + "\n")
    return folder


def test_an_archived_run_reads_back_like_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "ka-s1", 31.5, ["la luz", "y la tierra"])
    kept = tmp_path / "docs" / "stage2-nll-ka-s1"
    subprocess.run([sys.executable, "-m", "experiments.run_records", str(run), str(kept)], cwd=REPO, check=True)
    assert sorted(p.name for p in kept.iterdir()) == ["hyp.greedy.txt.gz", "metrics.jsonl", "results.json"]

    live, archived = load_run(run, kept), load_run(tmp_path / "gone" / "ka-s1", kept)
    assert live is not None and archived is not None
    assert live.outputs == run / "eval" and archived.outputs == kept
    for record in (live, archived):
        assert record.name == "ka-s1" and record.bleu("greedy") == 31.5 and record.score("greedy", "chrf") == 50.0
        assert record.train_minutes() == 2.0 and record.events("eval")[0]["valid_bleu"] == 1.5
        assert record.hypotheses("greedy") == ["la luz", "y la tierra"]
        assert record.bleu("beam5") is None and record.hypotheses("beam5") is None


def test_a_run_neither_on_disk_nor_archived_is_none(tmp_path: Path) -> None:
    assert load_run(tmp_path / "runs" / "x", tmp_path / "kept" / "x") is None
    assert load_run(tmp_path / "runs" / "x") is None


def test_archiving_a_folder_that_is_no_run_is_refused_with_the_reason(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "experiments.run_records", str(tmp_path), str(tmp_path / "k")],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "has no metrics.jsonl" in done.stderr
