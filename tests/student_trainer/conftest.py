"""Fixtures for the trainer tests: one local Ray per session, a real Redis, a real teacher server process
(a tiny random model), small data files and a helper that writes test recipes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from s2s.tokenizer import Tokenizer

REPO = Path(__file__).resolve().parents[2]
# Faster Ray Train bookkeeping for tests (health checks every 0.5 s, no preemption watcher); inherited by
# the local Ray processes started below.
RAY_TEST_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5", "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"}


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One local Ray instance for the whole session, with token authentication (its own token, nothing
    from `~/.ray`); yields its address (for `RAY_ADDRESS`). Its processes and every subprocess started by a
    test inherit `RAY_AUTH_MODE` and `RAY_AUTH_TOKEN_PATH`."""
    import ray

    from student_trainer.local_ray import start_local_ray

    saved = dict(os.environ)
    # Ray's processes inherit this environment, so workers of every job on this cluster (also those
    # of CLI subprocesses connecting through RAY_ADDRESS) import this checkout.
    os.environ.update(RAY_TEST_ENV)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    yield start_local_ray(tmp_path_factory.mktemp("ray-token"), num_cpus=2, include_dashboard=False, log_to_driver=True)
    ray.shutdown()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh `redis-server` on a free loopback port, without persistence."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; the trainer tests need a real Redis")
    port, folder = free_port(), tmp_path_factory.mktemp("redis")
    log = folder / "redis.log"
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    _wait_for_port(port, proc, "redis-server", log, 10)
    yield f"redis://127.0.0.1:{port}/0"
    _stop(proc)


@pytest.fixture(scope="session")
def teacher_endpoint(micro_checkpoint: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real teacher server process (`python -m services.teacher`) serving the tiny random model."""
    port, log = free_port(), tmp_path_factory.mktemp("teacher") / "teacher.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "services.teacher", "--model", str(micro_checkpoint),
                             "--port", str(port), "--host", "127.0.0.1", "--redis-url", redis_url,
                             "--device", "cpu", "--threads", "1"],
                            cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    _wait_for_port(port, proc, "teacher server", log, 90)
    yield f"127.0.0.1:{port}"
    _stop(proc)


@pytest.fixture(scope="session")
def start_teacher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """`start(model_dir, *flags)`: a real teacher server process for any model folder; its endpoint."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(model: Path, *flags: str) -> str:
        port, log = free_port(), tmp_path_factory.mktemp("teacher") / "teacher.log"
        proc = subprocess.Popen([sys.executable, "-m", "services.teacher", "--model", str(model), "--port", str(port),
                                 "--host", "127.0.0.1", "--device", "cpu", "--threads", "1", *flags],
                                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        procs.append(proc)
        _wait_for_port(port, proc, "teacher server", log, 90)
        return f"127.0.0.1:{port}"

    yield start
    for proc in procs:
        _stop(proc)


@pytest.fixture(scope="session")
def tiny_data(bible_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small train (240 verses) and valid (8 verses) TSVs cut from the Bible corpus."""
    folder = tmp_path_factory.mktemp("data")
    out = {}
    for name, rows in (("train", 240), ("valid", 8)):
        lines = (bible_dir / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[: rows + 1]
        out[name] = folder / f"{name}.tsv"
        out[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def other_tokenizer(bible_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small tokenizer with a different vocabulary than the teacher's (for mismatch tests)."""
    from s2s.tokenizer_training import train_tokenizer

    lines = (bible_dir / "valid.tsv").read_text(encoding="utf-8").splitlines()[1:]
    texts = [cell for line in lines for cell in line.split("\t")[1:]]
    out = tmp_path_factory.mktemp("other-tok")
    train_tokenizer(texts, out, vocab_size=300)
    assert Tokenizer(out).vocab_size != 8001
    return out


RecipeFactory = Callable[..., dict[str, Any]]


@pytest.fixture()
def make_recipe(tmp_path: Path, tiny_data: dict[str, Path], teacher_endpoint: str) -> RecipeFactory:
    """`make(kind, **sections)`: a small, fast recipe (test-micro student, tiny data) as plain data."""
    def make(kind: str = "nll", output: str = "run", **sections: dict[str, Any] | Any) -> dict[str, Any]:
        recipe: dict[str, Any] = {
            "name": f"test-{kind}", "output_dir": str(tmp_path / output), "max_steps": 6, "log_every": 3,
            "eval_every": 0, "checkpoint_every": 3,
            "student": {"preset": "test-micro", "seed": 2},
            "teacher": {"endpoints": teacher_endpoint} if kind != "nll" else {},
            "data": {"train": str(tiny_data["train"]), "valid": str(tiny_data["valid"]), "max_tokens": 600,
                     "max_len": 48, "valid_sentences": 4},
            "optim": {"warmup_steps": 4, "lr": 0.003},
            "loss": {"kind": kind},
        }
        for key, value in sections.items():
            if isinstance(value, dict):
                recipe.setdefault(key, {}).update(value)
            else:
                recipe[key] = value
        return recipe
    return make
