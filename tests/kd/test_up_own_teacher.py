"""End to end: `kd up` on a user's teacher of another family (a T5 with its own vocabulary) and a user's
corpus (a TSV whose columns have other names): import, serve the teacher, distil a student with its own
vocabulary at the sequence level, serve it, print the table, exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kd.stack.processes import free_port
from s2s.checkpoint import read_manifest
from s2s.tokenizer import Tokenizer


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_kd_up_distils_a_t5_teacher_on_a_tsv_with_other_columns(tiny_teachers: dict[str, Path], bible_dir: Path,
                                                                 tmp_path: Path) -> None:
    rows = (bible_dir / "train.tsv").read_text(encoding="utf-8").splitlines()[1:81]
    corpus = tmp_path / "my corpus.tsv"
    corpus.write_text("id\tsource_text\ttarget_text\n" + "\n".join(
        f"{i}\t{r.split(chr(9))[1]}\t{r.split(chr(9))[2]}" for i, r in enumerate(rows)) + "\n", encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text("student_preset: test-micro\nvocab_size: 300\nmax_steps: 3\nbeam: 2\n", encoding="utf-8")
    work, port = tmp_path / "up", free_port()
    argv = [sys.executable, "-m", "kd", "up", "--work-dir", str(work), "--teacher", str(tiny_teachers["t5"]),
            "--data", str(corpus), "--src", "es", "--tgt", "en", "--plan", str(plan), "--eval-limit", "3",
            "--port", str(port), "--exit-when-ready", "--set", "data.max_tokens=600", "--set", "eval_every=0",
            "--set", "checkpoint_every=2", "--set", "log_every=1", "--set", "data.valid_sentences=2"]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RAY_ADDRESS", "RAY_AUTH_TOKEN")}
    env["HOME"] = str(tmp_path / "home")
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1400,
                          cwd=Path(__file__).resolve().parents[2])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    data = work / "data" / "corpus-es-en"
    imported = json.loads((data / "import.json").read_text(encoding="utf-8"))
    assert "source_text" in json.dumps(imported) and "target_text" in json.dumps(imported)
    assert (data / "train.tsv").read_text(encoding="utf-8").split("\n", 1)[0] == "ref\tes\ten"
    assert "student: a fresh test-micro model on its own 300-piece vocabulary" in out
    student = work / "checkpoints" / "student-plan" / "final"  # named after the plan it followed
    own = Tokenizer(work / "student-tokenizer")
    assert read_manifest(student).vocab_fingerprint == own.fingerprint != read_manifest(
        work / "models" / "teacher-t5").vocab_fingerprint
    assert read_manifest(work / "models" / "teacher-t5").family == "t5"
    for role in ("| teacher (PyTorch) | t5 |", "| teacher (int8) | t5 |", "| student-plan (int8) |"):
        assert role in out, role
    assert "test set of my corpus.tsv (split off), es-en" in out
