"""constraints.txt pins every dependency of the project, within pyproject.toml's ranges, and set-up used it."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    lines = (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("==", 1) for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(pair) == 2 for pair in pairs), "every line of constraints.txt is `name==version`"
    return {canonicalize_name(name): version.strip() for name, version in pairs}


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [dep for group in project["optional-dependencies"].values() for dep in group]
    return [Requirement(dep) for dep in project["dependencies"] + extras]


def test_every_dependency_is_pinned_inside_its_range() -> None:
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: rerun scripts/lock.sh"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}")


def test_the_environment_is_the_pinned_one() -> None:
    # What scripts/setup.sh installs; a CUDA torch (2.13.0+cu128) satisfies the unlabelled pin.
    wrong = {}
    for name, version in _pins().items():
        installed = metadata.version(name)
        if not SpecifierSet(f"=={version}").contains(installed, prereleases=True):
            wrong[name] = f"pinned {version}, installed {installed}"
    assert wrong == {}, f"rerun scripts/setup.sh (or scripts/lock.sh after a deliberate upgrade): {wrong}"
