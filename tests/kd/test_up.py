"""End to end: `kd up` starts every compose service's command as a local process (redis, Ray head, teacher,
a trainer job through `ray job submit`, evaluation, export, gateway), serves a translation over REST, and
leaves no process behind after SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kd.stack.processes import free_port

TINY = ["--set", "student.preset=test-micro", "--set", "data.max_tokens=600", "--set", "data.valid_sentences=4",
        "--set", "eval_every=0", "--set", "checkpoint_every=2", "--set", "log_every=1"]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_line(proc: subprocess.Popen[str], pattern: str, timeout_s: float, seen: list[str]) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"kd up never printed {pattern!r}; output:\n{''.join(seen)[-4000:]}")


@pytest.mark.slow
def test_kd_up_distils_serves_and_stops_cleanly(micro_checkpoint: Path, tmp_path: Path) -> None:
    port = free_port()
    work = tmp_path / "up"
    argv = [sys.executable, "-m", "kd", "up", "--work-dir", str(work), "--teacher", str(micro_checkpoint),
            "--recipe", "word_kd", "--max-steps", "3", "--eval-limit", "3", "--port", str(port), *TINY]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RAY_ADDRESS")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[2])
    seen: list[str] = []
    try:
        _wait_for_line(proc, rf"gateway: http://127\.0\.0\.1:{port}", 900, seen)
        assert (work / "checkpoints" / "student-word_kd" / "final" / "manifest.json").is_file()
        body = json.dumps({"text": "Y dijo Dios: Sea la luz.", "model": "student-word_kd", "max_length": 8})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/translate", data=body.encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert answer["model"] == "student-word_kd" and isinstance(answer["translations"][0], str)
        assert any("| teacher |" in line for line in seen) and any("| student (word_kd) |" in line for line in seen)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    groups = [int(line.split()[0]) for line in (work / "logs" / "process-groups.txt").read_text().splitlines()]
    assert {"redis", "ray-head", "teacher", "gateway"} <= {
        line.split()[1] for line in (work / "logs" / "process-groups.txt").read_text().splitlines()}
    time.sleep(1)
    assert [g for g in groups if _group_alive(g)] == [], "kd up left processes running"
    assert proc.returncode == 0, "".join(seen)[-3000:]
