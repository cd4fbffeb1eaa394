"""End to end: `kd up` starts every compose service's command as a local process (redis, Ray head, teacher,
a trainer job through `ray job submit`, evaluation, export, gateway), serves a translation over REST, and
leaves no process behind after SIGTERM. It runs with an empty home directory, as on a fresh machine: Ray's
token authentication is on with the stack's own token, and nothing appears under `~/.ray`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kd.stack.processes import free_port
from kd.stack.up import served_teacher_id

TINY = ["--set", "student.preset=test-micro", "--set", "data.max_tokens=600", "--set", "data.valid_sentences=4",
        "--set", "eval_every=0", "--set", "checkpoint_every=2", "--set", "log_every=1"]


def _running_in_group(pgid: int) -> list[int]:
    """Processes of group `pgid` that still run; zombies (killed, waiting for init to reap them) do not."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            running.append(int(stat.parent.name))
    return running


def _left_running(groups: list[int], timeout_s: float = 10.0) -> list[int]:
    """The processes of `groups` still running after up to `timeout_s` (SIGKILLed ones take a moment)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for g in groups for pid in _running_in_group(g)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


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
@pytest.mark.timeout(1500)  # the whole stack, one step after another; minutes on 2 busy cores
def test_kd_up_distils_serves_and_stops_cleanly(micro_checkpoint: Path, tmp_path: Path) -> None:
    port = free_port()
    work = tmp_path / "up"
    argv = [sys.executable, "-m", "kd", "up", "--work-dir", str(work), "--teacher", str(micro_checkpoint),
            "--recipe", "word_kd", "--max-steps", "3", "--eval-limit", "3", "--train-limit", "40",
            "--port", str(port), *TINY]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               HF_HOME=str(home / ".cache" / "huggingface"))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[2])
    seen: list[str] = []
    try:
        jobs = _wait_for_line(proc, r"jobs (http://127\.0\.0\.1:\d+)", 300, seen).group(1)
        # Serve first: the teacher's int8 export answers before any student exists.
        _wait_for_line(proc, rf"gateway: http://127\.0\.0\.1:{port} serves the teacher", 600, seen)
        early = _translate(port, None)
        assert early["model"] == "teacher-micro" and isinstance(early["translations"][0], str)
        token = work / "ray" / "auth_token"
        assert token.is_file() and token.stat().st_mode & 0o777 == 0o600
        assert _jobs_api_status(jobs, None) == 401 and _jobs_api_status(jobs, "not-the-token") in (401, 403)
        assert _jobs_api_status(jobs, token.read_text().strip()) == 200
        # Distil second: Seq-KD data, the shrunk student, training with progress, then the hot swap.
        _wait_for_line(proc, r"student-word_kd is served and is now the default model", 900, seen)
        _wait_for_line(proc, rf"gateway: http://127\.0\.0\.1:{port}   \(page", 600, seen)
        assert (work / "checkpoints" / "student-word_kd" / "final" / "manifest.json").is_file()
        assert len((work / "data" / "seq-kd" / "seq_kd.tsv").read_text().splitlines()) == 41
        assert any(re.search(r"step 3/3 \(100%\) \| loss [\d.]+ \| [\d,]+ tokens/s", line) for line in seen)
        answer = _translate(port, None)
        assert answer["model"] == "student-word_kd" and isinstance(answer["translations"][0], str)
        for role in ("| teacher (PyTorch) |", "| teacher (int8) |", "| student-word_kd (int8) |"):
            assert any(role in line for line in seen), role
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    groups = [int(line.split()[0]) for line in (work / "logs" / "process-groups.txt").read_text().splitlines()]
    assert {"redis", "ray-head", "teacher", "gateway"} <= {
        line.split()[1] for line in (work / "logs" / "process-groups.txt").read_text().splitlines()}
    assert _left_running(groups) == [], "kd up left processes running"
    assert proc.returncode == 0, "".join(seen)[-3000:]
    assert not (home / ".ray").exists(), f"kd up wrote to HOME/.ray: {sorted((home / '.ray').rglob('*'))}"


def _translate(port: int, model: str | None) -> dict[str, object]:
    body = {"text": "Y dijo Dios: Sea la luz.", "max_length": 8, **({"model": model} if model else {})}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/translate", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read()))


def _jobs_api_status(jobs_url: str, token: str | None) -> int:
    """HTTP status of the Ray Jobs API's job list, with the token as a bearer header (or none)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{jobs_url}/api/jobs/", headers=headers),
                                    timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.parametrize(("model_id", "served"), [
    ("micro", "teacher-micro"),
    ("bible-es-en-small", "teacher-bible-es-en-small"),
    ("teacher-bible-es-en-small", "teacher-bible-es-en-small"),  # the reference teacher: no doubled prefix
    ("teacher", "teacher"),
])
def test_served_teacher_ids_carry_the_teacher_prefix_once(model_id: str, served: str) -> None:
    assert served_teacher_id(model_id) == served
