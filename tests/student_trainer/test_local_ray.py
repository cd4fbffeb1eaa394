"""Starting local Ray: a start whose raylet registers too late is cleaned up and tried again.

Ray's own startup check (30 s for the raylet to register with the GCS) is made to run out on the first
attempt: its clock jumps and the GCS lookup fails, while the GCS and raylet it started are real. The run
happens in a subprocess, so that it owns its Ray instance and leaves the session's cluster alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, logging, sys, time
from pathlib import Path

import ray
import ray._private.node as node
import ray._private.services as services

import student_trainer.local_ray as local_ray

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
real_get_node, real_private_temp_dir = services.get_node, local_ray.private_temp_dir
made, first_address = [], []


class JumpingClock:
    offset = 0.0

    def monotonic(self):
        return time.monotonic() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


clock = JumpingClock()


def late_raylet(gcs_address, node_id):
    first_address[:1] = first_address[:1] or [gcs_address]
    if gcs_address == first_address[0]:
        clock.offset += 31.0
        raise RuntimeError("node not registered yet (simulated)")
    return real_get_node(gcs_address, node_id)


def recording_temp_dir(prefix="kd-ray-"):
    made.append(real_private_temp_dir(prefix))
    return made[-1]


node.time, services.get_node, local_ray.private_temp_dir = clock, late_raylet, recording_temp_dir
address = local_ray.start_local_ray(Path(sys.argv[1]), num_cpus=1, include_dashboard=False)
cpus = ray.cluster_resources().get("CPU")
square = ray.get(ray.remote(lambda x: x * x).remote(7))
survivors = local_ray._kill_processes_of(made[0])
ray.shutdown()
try:
    local_ray.start_local_ray(Path(sys.argv[1]), no_such_option=1)
    refused = None
except RuntimeError as exc:
    refused = str(exc)
print(json.dumps({"address": address, "first": first_address[0], "dirs": len(made), "cpus": cpus,
                  "square": square, "survivors": survivors, "refused": refused}))
"""


def test_a_start_that_times_out_is_cleaned_up_and_retried(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "token")], cwd=REPO, text=True,
                          capture_output=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "attempt 1 of 3" in done.stderr and "trying again" in done.stderr
    assert result["address"] != result["first"]  # a fresh GCS port for the second attempt
    assert result["cpus"] == 1.0 and result["square"] == 49  # the second instance runs tasks
    assert result["survivors"] == 0  # nothing of the failed start was left running
    # Errors other than the startup timeout are not retried: one more folder, then the error itself.
    assert result["dirs"] == 3 and "no_such_option" in result["refused"]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_local_ray_listens_on_loopback_only(ray_cluster: str, listening: Any, exposed: Any) -> None:
    """The trainer's own Ray (GCS, raylet, agents, workers) binds loopback: Ray 2.60 would otherwise swap its
    127.0.0.1 node address for the machine's and listen on every interface, guarded by the token alone."""
    import ray

    @ray.remote
    def pid() -> int:
        return os.getpid()

    ray.get(pid.remote())  # a worker process is up too
    held = listening(_descendants(os.getpid()))
    assert sum(len(a) for a in held.values()) >= 4, held  # GCS, raylet (2), agents, the worker
    assert not exposed(held), exposed(held)
