"""Ray token authentication from the project's own token files: unit checks of the token, and `kd train`
and `kd distill-data` each starting their local Ray with an empty home directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s2s.errors import KDError
from s2s.secret_files import PlaceholderSecretError
from student_trainer.local_ray import ensure_ray
from student_trainer.ray_auth import ensure_token, token_env
from teacher_client.client import read_token

from .conftest import REPO


def test_token_is_created_private_and_reused(tmp_path: Path) -> None:
    path = ensure_token(tmp_path / "state" / "ray")
    token = path.read_text()
    assert len(token) == 64 and int(token, 16) >= 0
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert ensure_token(tmp_path / "state" / "ray") == path and path.read_text() == token
    assert ensure_token(tmp_path / "other").read_text() != token


def test_token_env_points_ray_at_the_file_and_refuses_a_missing_one(tmp_path: Path) -> None:
    path = ensure_token(tmp_path)
    assert token_env(path) == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(path.resolve())}
    with pytest.raises(KDError, match="does not exist"):
        token_env(tmp_path / "missing")


def test_the_deploy_placeholder_token_is_refused_before_ray_starts_or_connects(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The RAY_TOKEN of deploy/k8s/secret.yaml, mounted as a file or given in the environment: no local Ray
    starts with it and no driver connects to a cluster with it (the pods refuse it in an init container)."""
    folder = tmp_path / "ray"
    folder.mkdir()
    (folder / "auth_token").write_text("REPLACE_ME-ray-token")
    with pytest.raises(PlaceholderSecretError, match="Ray token in .* is still the placeholder"):
        ensure_token(folder)
    with pytest.raises(PlaceholderSecretError, match="scripts/make_secrets.sh"):
        token_env(folder / "auth_token")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # never reached: refused before connecting
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(folder / "auth_token"))
    with pytest.raises(PlaceholderSecretError):
        ensure_ray(tmp_path / "state")
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "REPLACE_ME-ray-token")
    with pytest.raises(PlaceholderSecretError, match="RAY_AUTH_TOKEN"):
        ensure_ray(tmp_path / "state")
    teacher_token = tmp_path / "teacher_token"
    teacher_token.write_text("REPLACE_ME-teacher-token\n")
    with pytest.raises(PlaceholderSecretError, match="teacher token"):
        read_token(teacher_token)


def _fresh_home_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAY_") and k not in ("REDIS_URL",)}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(REPO))
    return env, home


@pytest.mark.slow
def test_kd_train_local_ray_uses_its_own_token_from_an_empty_home(tmp_path: Path, tiny_data: dict[str, Path],
                                                                  micro_checkpoint: Path) -> None:
    env, home = _fresh_home_env(tmp_path)
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "kd", "train", "--recipe", "nll", "--set", f"output_dir={out}",
            "--set", "student.preset=test-micro", "--set", f"student.tokenizer={micro_checkpoint}",
            "--set", f"data.train={tiny_data['train']}", "--set", f"data.valid={tiny_data['valid']}",
            "--set", "data.max_tokens=600", "--set", "data.valid_sentences=2", "--set", "max_steps=2",
            "--set", "eval_every=0", "--set", "checkpoint_every=2", "--set", "log_every=1"]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    token = out / "ray" / "auth_token"
    assert (out / "final" / "manifest.json").is_file()
    assert token.is_file() and token.stat().st_mode & 0o777 == 0o600
    assert not (home / ".ray").exists()


@pytest.mark.slow
def test_kd_distill_data_local_ray_uses_its_own_token_from_an_empty_home(
        tmp_path: Path, tiny_data: dict[str, Path], teacher_endpoint: str) -> None:
    env, home = _fresh_home_env(tmp_path)
    out = tmp_path / "distilled"
    argv = [sys.executable, "-m", "kd", "distill-data", "--teacher", teacher_endpoint,
            "--data", str(tiny_data["valid"]), "--out", str(out), "--beam", "2", "--nbest", "2", "--max-len", "6",
            "--chunk-size", "4"]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert len((out / "seq_kd.tsv").read_text().splitlines()) == 9
    assert (out / "ray" / "auth_token").stat().st_mode & 0o777 == 0o600
    assert not (home / ".ray").exists()
