"""scripts/gpu_check.sh: its dry run goes through every step on the CPU, so the GPU minutes go to measuring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu_check.sh"), *args], cwd=REPO_ROOT,
                          env={**os.environ, "KD_PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
                               "KD_WHEELS": str(REPO_ROOT / "no-such-folder"), **env},
                          capture_output=True, text=True, timeout=timeout_s)


def test_the_dry_run_goes_through_every_step(micro_checkpoint: Path, bible_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    done = _run(["--dry-run"], {"KD_GPU_CHECK_TEACHER": str(micro_checkpoint), "KD_GPU_CHECK_DATA": str(bible_dir),
                                "KD_GPU_CHECK_OUT": str(out)}, 280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[gpu-check] device: CPU" in done.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    rows = {(r["op"], r["engine"]) for r in result["engines"]["rows"]}
    assert {("topk", "pytorch"), ("score", "pytorch"), ("generate", "pytorch")} <= rows
    assert ("topk", "ctranslate2-int8") in rows  # installed here: measured, with its distance from PyTorch
    assert result["engines"]["agreement"]["ctranslate2-float32"]["max_abs_logq_diff"] < 1e-3
    assert result["batching"]["clients"] == 8 and result["batching"]["batching_gain"] > 0
    assert result["word_kd"]["steps"] == 3 and result["word_kd"]["target_tokens_per_s"] > 0
    assert set(result["seconds"]) == {"engines", "batching", "word_kd"}


def test_without_a_gpu_the_real_run_says_so_and_stops(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        return  # (on a GPU machine the real run is the script's job, not a test's)
    done = _run([], {"KD_GPU_CHECK_OUT": str(tmp_path / "none.json")}, 120)
    assert done.returncode == 2 and "no CUDA device" in done.stdout and "--dry-run" in done.stdout
    assert not (tmp_path / "none.json").exists()
