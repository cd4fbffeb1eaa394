"""The experiments and benchmarks are packages: they import as `experiments.*` and `bench.*` from the repository
root (`python -m experiments.protocol.table`), with no script editing `sys.path` to find the project."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PATH_EDIT = re.compile(r"\bsys\.path\.(insert|append|extend)\b|\bsys\.path\s*(\+?=|\[)")


def modules(package: str) -> list[str]:
    """Every Python module of the top-level folder `package`, as a dotted name."""
    root = REPO / package
    return sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                  for p in root.rglob("*.py"))


def test_no_source_edits_sys_path() -> None:
    edits = [f"{p.relative_to(REPO)}:{n}" for folder in ("experiments", "bench", "tests")
             for p in sorted((REPO / folder).rglob("*.py")) if p != Path(__file__).resolve()
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if PATH_EDIT.search(line)]
    assert not edits, f"sys.path edited at {', '.join(edits)}: run the script as a module from the repository root"


def test_every_folder_of_experiments_is_a_package() -> None:
    folders = {p.parent for p in (REPO / "experiments").rglob("*.py")}
    assert not [f for f in folders if not (f / "__init__.py").is_file()]


@pytest.mark.parametrize("name", modules("experiments") + modules("bench"))
def test_the_module_imports_as_a_package_module(name: str) -> None:
    assert importlib.import_module(name).__name__ == name


def test_a_table_script_runs_as_a_module_from_the_repository_root() -> None:
    done = subprocess.run([sys.executable, "-m", "experiments.protocol.table", "--help"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "python -m experiments.protocol.table" in done.stdout
