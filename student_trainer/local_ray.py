"""Starting the local Ray instance a run uses when no cluster is given: loopback only (every one of its
ports), its own token, its own session folder, and a second try when Ray's startup times out.

Ray waits a fixed 30 s for its raylet to register with the GCS. On a small machine under load (two cores
busy training, or a cold virtual environment importing Ray's agents for the first time) that wait can run
out although nothing is wrong; Ray then raises and leaves the processes it had started running, with no
handle to stop them. A failed start is therefore cleaned up (every process whose command line names its
session folder is killed), the tail of its GCS and raylet logs is reported, and Ray is started again in a
fresh folder on a fresh port.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from student_trainer.ray_auth import LOOPBACK_ENV, check_token, ensure_token, private_temp_dir, use_token

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]
START_ATTEMPTS = 3
STARTUP_TIMEOUT_TEXT = "timed out during startup"  # in the message Ray raises when its raylet is late


def ensure_ray(state_dir: Path) -> None:
    """Connect to `RAY_ADDRESS` when set (a cluster, or inside `ray job submit`), else start local Ray.

    A local Ray gets its own token in `state_dir/ray/auth_token` (see `student_trainer.ray_auth`), so the
    run needs nothing from the home directory; a second run with the same `state_dir` reuses the token.
    """
    import ray

    address = os.environ.get("RAY_ADDRESS")
    if address:
        check_token()  # a cluster's token from the environment: never the deploy template's placeholder
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address)
        return
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    start_local_ray(Path(state_dir) / "ray", runtime_env={"env_vars": {"PYTHONPATH": path}})


def start_local_ray(token_dir: Path, attempts: int = START_ATTEMPTS, **init_args: Any) -> str:
    """Start a local Ray instance on loopback, with token authentication, whose own processes know its
    address; returns the address. A start that times out is cleaned up and tried again, `attempts` in all.

    The token lives in `token_dir` (created 0600 if absent) and Ray's session files in a private temporary
    folder, so nothing is shared with other Ray instances or read from `~/.ray` and `/tmp/ray`.

    Ray's helper actors (e.g. Ray Train's placement-group cleaner, which asks the state API whether the
    controller is alive) find "their" cluster through `RAY_ADDRESS`, else through
    `ray_current_cluster` in the temporary folder -- which names whatever cluster `ray start` made last.
    Asked about the wrong cluster, the cleaner decides our controller is dead and removes the workers'
    placement group. So the GCS port is chosen here and `RAY_ADDRESS` set before the processes start.
    """
    use_token(ensure_token(token_dir))
    _loopback_only()
    given_temp_dir = init_args.pop("_temp_dir", None)
    for attempt in range(1, attempts + 1):
        temp_dir = Path(given_temp_dir) if given_temp_dir else private_temp_dir()
        try:
            return _start_once(temp_dir, init_args)
        except Exception as exc:
            if STARTUP_TIMEOUT_TEXT not in str(exc) or attempt == attempts:
                raise
            killed = _kill_processes_of(temp_dir)
            log.warning("local Ray did not start (attempt %d of %d: %s); stopped its %d processes and trying "
                        "again on a fresh port.%s", attempt, attempts, exc, killed, _log_tails(temp_dir))
    raise AssertionError("unreachable")


def _loopback_only() -> None:
    """Keep this Ray's node address 127.0.0.1, so that every one of its servers binds loopback only (see
    `ray_auth.LOOPBACK_ENV`): in the environment for its processes, and in Ray's constant, which this process
    read when it imported Ray."""
    from ray._private import ray_constants

    os.environ.update(LOOPBACK_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False


def _start_once(temp_dir: Path, init_args: dict[str, Any]) -> str:
    """One `ray.init` on a fresh GCS port in `temp_dir`; `RAY_ADDRESS` names it on success only."""
    import ray

    address = f"127.0.0.1:{_free_port()}"
    os.environ["RAY_GCS_SERVER_PORT"] = address.rsplit(":", 1)[1]
    os.environ["RAY_ADDRESS"] = address
    try:
        ray.init(address="local", _node_ip_address="127.0.0.1", _temp_dir=str(temp_dir), **init_args)
    except BaseException:
        os.environ.pop("RAY_ADDRESS", None)
        ray.shutdown()  # forgets whatever the failed start had set up in this process
        raise
    finally:
        os.environ.pop("RAY_GCS_SERVER_PORT", None)
    return address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_processes_of(temp_dir: Path) -> int:
    """SIGKILL every process whose command line names `temp_dir` (the GCS, raylet, monitors and dashboard
    of a failed start; its agents exit with their raylet); returns how many were signalled."""
    needle, killed = str(temp_dir).encode(), 0
    if not Path("/proc").is_dir():
        return 0  # not Linux: nothing to find them by; the reaper stops them when this process exits
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
                killed += 1
        except OSError:  # gone meanwhile (ProcessLookupError too), or not ours to read
            continue
    return killed


def _log_tails(temp_dir: Path, lines: int = 15) -> str:
    """The last lines of the failed session's GCS and raylet logs, for the warning."""
    parts = []
    for name in ("gcs_server.out", "raylet.out", "raylet.err"):
        for path in sorted(temp_dir.glob(f"session_*/logs/{name}")):
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"\n--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
    return "".join(parts)
