"""Supervising child processes: start with logs, wait until ready, stop the whole group cleanly; and where
the stack's services listen and how their secrets reach them.

Each child runs in its own session (process group) so that stopping it also stops whatever it spawned
(Ray's `ray start --block` starts several daemons). Stopping is SIGTERM, a grace period, then SIGKILL.

On a shared host every port of the stack listens on loopback unless the user names another address
(`kd up --bind`, `KD_UP_BIND`: `UpConfig.bind`). Secrets (the Redis password and the URL holding it) are
written to files of mode 0600 in a 0700 folder of the work folder (`write_private`) and passed to children
as file paths: never on a command line (which every local user can read in `ps`) and never in a log.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from s2s.errors import KDError
from student_trainer.ray_auth import LOOPBACK_ENV

ReadyCheck = Callable[[], bool]


class ChildFailed(KDError):
    """A child process exited or never became ready; the message points at its log."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ray_bind_env(host: str) -> dict[str, str]:
    """Environment for Ray's processes and clients that keeps a loopback node address on loopback."""
    return dict(LOOPBACK_ENV) if is_loopback(host) else {}


def write_private(path: Path, text: str) -> Path:
    """Write a secret to `path` (mode 0600, replaced atomically) inside a folder only its owner can enter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def redacted_url(url: str) -> str:
    """A service URL as it may be logged: scheme, host, port and path, without user or password."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    where = f"[{host}]" if ":" in host else host
    return urllib.parse.urlunsplit((parts.scheme, where + (f":{parts.port}" if parts.port else ""), parts.path,
                                    "", ""))


def port_open(port: int, host: str = "127.0.0.1") -> ReadyCheck:
    """Ready when something accepts TCP connections on `host:port`."""
    def check() -> bool:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((host, port)) == 0
    return check


def http_ok(url: str) -> ReadyCheck:
    """Ready when `url` answers 200."""
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False
    return check


def command_succeeds(argv: Sequence[str]) -> ReadyCheck:
    """Ready when `argv` exits 0 (e.g. a gRPC health-check command)."""
    def check() -> bool:
        return subprocess.run(list(argv), capture_output=True, timeout=30).returncode == 0
    return check


@dataclass
class Child:
    """One supervised process and its log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env={**os.environ, **self.env},
                                        start_new_session=True)
        log.close()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the child's process group, wait up to `grace_s`, then SIGKILL what is left."""
        if self.process is None:
            return
        pgid = self.process.pid
        _signal_group(pgid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace_s)
        _signal_group(pgid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def tail(self, lines: int = 15) -> str:
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Stack:
    """The children of one `kd up`, stopped in reverse order of start when the stack closes.

    Every child's process group id is appended to `log_dir/process-groups.txt`, so that a test (or a
    person) can check afterwards that nothing was left running."""

    def __init__(self, cwd: Path, log_dir: Path) -> None:
        self.cwd, self.log_dir = cwd, log_dir
        self.children: list[Child] = []

    def start(self, name: str, argv: Sequence[str], ready: ReadyCheck | None = None,
              timeout_s: float = 300.0, env: dict[str, str] | None = None) -> Child:
        """Start `argv`, then wait until `ready` holds; a child that dies first is reported with its log."""
        child = self._launch(name, argv, env)
        if ready is not None:
            self.wait_ready(child, ready, timeout_s)
        return child

    def _launch(self, name: str, argv: Sequence[str], env: dict[str, str] | None) -> Child:
        child = Child(name, list(argv), self.log_dir / f"{name}.log", env or {})
        self.children.append(child)
        child.start(self.cwd)
        assert child.process is not None
        with (self.log_dir / "process-groups.txt").open("a", encoding="utf-8") as f:
            f.write(f"{child.process.pid} {name}\n")
        return child

    def wait_ready(self, child: Child, ready: ReadyCheck, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if child.exited() is not None:
                raise ChildFailed(f"{child.name} exited with {child.exited()} before it was ready; "
                                  f"its log ({child.log_path}) ends with:\n{child.tail()}")
            if ready():
                return
            time.sleep(0.5)
        raise ChildFailed(f"{child.name} was not ready after {timeout_s:.0f}s; see {child.log_path}")

    def run(self, name: str, argv: Sequence[str], timeout_s: float | None = None,
            env: dict[str, str] | None = None, watch: Callable[[], object] | None = None) -> None:
        """Run a one-shot step to completion as a child (so Ctrl-C stops it too); fail on non-zero exit.

        `watch` is called every couple of seconds while the step runs (and once after), e.g. to show the
        progress it writes to its log."""
        child = self._launch(name, argv, env)
        assert child.process is not None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        code = None
        while code is None:
            try:
                code = child.process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() > deadline:
                    raise ChildFailed(f"{name} did not finish within {timeout_s:.0f}s; see {child.log_path}") from None
            if watch is not None:
                watch()
        self.children.remove(child)
        if code != 0:
            raise ChildFailed(f"{name} failed with exit code {code}; its log ({child.log_path}) ends with:\n"
                              f"{child.tail()}")

    def close(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
