"""Starting a local Redis and teacher server processes on free loopback ports (tests, benchmarks, demos).

Each process is started, waited for until it answers (Redis PING, gRPC health SERVING), and stopped
with the signal the caller chooses: SIGTERM for a graceful drain, SIGKILL to simulate a dying replica.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import grpc
import redis

from services.teacher.healthcheck import check

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Process:
    """A child process with its output in a temporary log file."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] = tempfile.NamedTemporaryFile(prefix="kd-launch-", suffix=".log")  # noqa: SIM115

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                     env={**os.environ, **(env or {})})

    def log_text(self) -> str:
        """Everything the process printed so far."""
        self._log.flush()
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 30.0) -> int:
        """Exit code, killing the process if it has not exited within `timeout_s`."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        self.send(sig)
        return self.wait(timeout_s)

    def _wait_until(self, ready: Callable[[], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited with code {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if ready():
                return
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise TimeoutError(f"{what} not ready after {timeout_s:.0f}s:\n{self.log_text()[-3000:]}")


class RedisProcess(_Process):
    """`redis-server` on a free loopback port, configured as a cache (LRU, no persistence)."""

    def __init__(self, port: int | None = None, maxmemory: str = "128mb") -> None:
        super().__init__()
        self.port = port or free_port()
        self.maxmemory = maxmemory

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self._spawn([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--maxmemory", self.maxmemory, "--maxmemory-policy", "allkeys-lru"])
        self._wait_until(self._pings, f"redis-server on port {self.port}", timeout_s)
        return self

    def _pings(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


SERVICE_ENTRY = ("-m", "services.teacher")
CLI_ENTRY = ("-m", "kd", "teacher", "serve")


class TeacherProcess(_Process):
    """A teacher server process on a free loopback port: `python -m services.teacher` (or, with
    `entry=CLI_ENTRY`, `python -m kd teacher serve`); `args` are further server flags."""

    def __init__(self, model: Path, args: list[str] | None = None, port: int | None = None,
                 env: dict[str, str] | None = None, entry: tuple[str, ...] = SERVICE_ENTRY) -> None:
        super().__init__()
        self.model = model
        self.args = args or []
        self.port = port or free_port()
        self.env = env
        self.entry = entry

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> TeacherProcess:
        argv = [sys.executable, *self.entry, "--model", str(self.model), "--host", "127.0.0.1",
                "--port", str(self.port), *self.args]
        self._spawn(argv, self.env)
        self._wait_until(self._serving, f"teacher on port {self.port}", timeout_s)
        return self

    def _serving(self) -> bool:
        try:
            return check(self.target, timeout_s=1.0) == "SERVING"
        except grpc.RpcError:
            return False
