"""`kd up` on a shared host: every port of its Redis, Ray head and teacher listens on loopback only, Redis
requires a generated password, and that password is in no command line, no log and no console line."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
import redis

from kd.stack.pipeline import Up, UpConfig
from kd.stack.processes import Stack, redacted_url
from teacher_client import TeacherClient

REPO = Path(__file__).resolve().parents[2]


def _processes_of(groups: list[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) in groups:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture()
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Up, Stack]]:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KD_UP_BIND", raising=False)
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    with Stack(cwd=REPO, log_dir=tmp_path / "up" / "logs") as processes:
        yield Up(UpConfig(work_dir=tmp_path / "up", redis_url=None), processes), processes


@pytest.mark.timeout(600)
def test_the_stack_listens_on_loopback_only_and_keeps_the_redis_password_secret(
        stack: tuple[Up, Stack], micro_checkpoint: Path, capsys: pytest.CaptureFixture[str],
        listening: Callable[[Iterable[int]], dict[int, list[str]]],
        exposed: Callable[..., dict[int, list[str]]]) -> None:
    up, processes = stack
    url_file = up.redis()
    up.ray_head()
    endpoint = up.teacher(micro_checkpoint, url_file)
    url = url_file.read_text()
    password = redis.connection.parse_url(url)["password"]
    assert len(password) == 64

    with TeacherClient(endpoint, timeout_s=60) as client:  # the teacher caches in the password-protected Redis
        tgt = [[31, 47, 5, 0]]
        client.topk([[22, 6809, 10, 0]], tgt, 4)
        client.topk([[22, 6809, 10, 0]], tgt, 4)
        assert client.stats()["cache_hits"] == 1
    port = redis.connection.parse_url(url)["port"]
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5).get("anything")
    assert redis.Redis.from_url(url).dbsize() >= 1

    groups = [c.process.pid for c in processes.children if c.process is not None]
    held = listening(_processes_of(groups))
    addresses = [a for found in held.values() for a in found]
    assert len(addresses) >= 8, held  # Redis, GCS, raylet, agents, dashboard, client server, teacher, metrics
    assert not exposed(held), exposed(held)

    secrets_dir = up.paths.root / "secrets"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    for name in ("redis_url", "redis.conf"):
        assert stat.S_IMODE((secrets_dir / name).stat().st_mode) == 0o600, name
    for pid in _processes_of(groups):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert password not in cmdline, cmdline
    logs = [p for p in (up.paths.root / "logs").rglob("*") if p.is_file()]
    assert logs and not [p for p in logs if password in p.read_text(errors="replace")]
    console = capsys.readouterr().out
    assert "redis: started on 127.0.0.1:" in console and password not in console


def test_a_given_redis_url_is_passed_by_file_and_logged_without_its_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with Stack(cwd=REPO, log_dir=tmp_path / "logs") as processes:
        up = Up(UpConfig(work_dir=tmp_path / "up", redis_url="redis://kd:s3cr3t-pw@cache.internal:6380/2"), processes)
        url_file = up.redis()
    assert url_file.read_text() == "redis://kd:s3cr3t-pw@cache.internal:6380/2"
    assert stat.S_IMODE(url_file.stat().st_mode) == 0o600
    console = capsys.readouterr().out
    assert "redis: using redis://cache.internal:6380/2" in console and "s3cr3t" not in console
    assert redacted_url("redis://:pw@[::1]:6379/0") == "redis://[::1]:6379/0"
