"""Every recipe the project ships or shows loads: the bundled files, the protocol's recipes with each of its
rows, and every recipe in the docs (YAML blocks, `kd train` / `python -m student_trainer` commands with
their `--set` overrides, and the protocol commands of docs/results.md)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from experiments.protocol.plan import BASES, RECIPES, ROWS, STAGE2, row_sets
from student_trainer.recipe import Recipe
from student_trainer.recipe_io import RECIPES_DIR, bundled_recipes, load_recipe, recipe_from_dict

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted(p for p in [REPO / "README.md", *(REPO / "docs").rglob("*.md")] if "logs" not in p.parts)
PLACEHOLDERS = {"my_recipe.yaml", "NAME_OR_FILE"}  # names that stand for the reader's own recipe file
TRAIN = re.compile(r"(?:kd train|python -m student_trainer)\s(.*)")
PROTOCOL = re.compile(r"experiments/protocol/run\.py\s(.*)")


def _logical_lines(text: str) -> list[str]:
    """The text's lines with shell continuations (a trailing backslash) joined."""
    return re.sub(r"\\\n\s*", " ", text).splitlines()


def _tokens(rest: str) -> list[str]:
    """A command's arguments up to the end of the command (a comment, an inline-code end or a table cell)."""
    rest = re.split(r"\s#|`|\|", rest)[0]
    try:
        return shlex.split(rest)
    except ValueError:
        return rest.split()


def _option(tokens: list[str], name: str) -> list[str]:
    return [tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == name]


def _loop_values(lines: list[str], upto: int, var: str) -> list[str]:
    """The values of `for VAR in a b c; do` nearest above line `upto` (a docs loop over recipes)."""
    for line in reversed(lines[:upto]):
        match = re.search(rf"for {var} in (.*?); do", line)
        if match:
            return match.group(1).split()
    raise AssertionError(f"${var} is used but no `for {var} in ...` precedes it")


def _train_commands() -> list[tuple[str, str, list[str]]]:
    """(where, recipe, overrides) of every training command shown in the docs."""
    found = []
    for doc in DOCS:
        lines = _logical_lines(doc.read_text(encoding="utf-8"))
        for number, line in enumerate(lines):
            match = TRAIN.search(line)
            tokens = _tokens(match.group(1)) if match else []
            for recipe in _option(tokens, "--recipe"):
                if recipe in PLACEHOLDERS:
                    continue
                names = _loop_values(lines, number, recipe[1:]) if recipe.startswith("$") else [recipe]
                found += [(f"{doc.name}:{number + 1}", name, _option(tokens, "--set")) for name in names]
    return found


def _protocol_commands() -> list[tuple[str, list[str], list[str]]]:
    """(where, recipe files with their run overrides, command overrides) of the protocol commands in the docs."""
    found = []
    for doc in DOCS:
        for number, line in enumerate(_logical_lines(doc.read_text(encoding="utf-8"))):
            match = PROTOCOL.search(line)
            tokens = _tokens(match.group(1)) if match else []
            if "--stage" not in tokens:
                continue
            sets = _option(tokens, "--set")
            if _option(tokens, "--stage") == ["1"]:
                runs = [[str(RECIPES / "stage1_nll.yaml"), *b.sets] for b in BASES.values()]
            else:
                recipe = STAGE2[(_option(tokens, "--recipe") or ["restart"])[0]].recipe
                rows = (_option(tokens, "--rows") or [",".join(ROWS)])[0].split(",")
                runs = [[str(recipe), *row_sets(row)] for row in rows]
            found += [(f"{doc.name}:{number + 1}", run, sets) for run in runs]
    return found


def _yaml_blocks() -> list[tuple[str, dict[str, object]]]:
    """Every ```yaml block of the docs that is a recipe (a mapping of recipe keys)."""
    keys = set(Recipe.__dataclass_fields__)
    found = []
    for doc in DOCS:
        for block in re.findall(r"```ya?ml\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S):
            data = yaml.safe_load(block)
            if isinstance(data, dict) and data and set(data) <= keys:
                found.append((doc.name, data))
    return found


def test_every_bundled_and_protocol_recipe_loads() -> None:
    files = sorted(RECIPES_DIR.glob("*.yaml")) + sorted(RECIPES.glob("*.yaml"))
    assert len(files) == len(bundled_recipes()) + 3
    for path in files:
        assert load_recipe(str(path)).name


@pytest.mark.parametrize("stage2", list(STAGE2))
def test_every_protocol_row_trains_exactly_its_objective(stage2: str) -> None:
    for row, settings in ROWS.items():
        recipe = load_recipe(str(STAGE2[stage2].recipe), row_sets(row))
        assert recipe.loss == settings, row
        assert recipe.diagnostics.enabled and recipe.diagnostic_sizes == (8, 8), row


def test_every_training_command_in_the_docs_loads() -> None:
    commands = _train_commands()
    assert len(commands) >= 10 and any("loss.lam=0.7" in sets for _, _, sets in commands)
    for where, recipe, sets in commands:
        try:
            load_recipe(recipe, sets)
        except Exception as exc:  # pragma: no cover - the message names the doc line
            raise AssertionError(f"{where}: kd train --recipe {recipe} {sets}: {exc}") from exc


def test_every_protocol_command_in_the_docs_loads() -> None:
    commands = _protocol_commands()
    assert len(commands) >= 20
    for where, (recipe, *run_sets), sets in commands:
        try:
            load_recipe(recipe, [*run_sets, *sets])
        except Exception as exc:  # pragma: no cover
            raise AssertionError(f"{where}: {recipe} {run_sets + sets}: {exc}") from exc


def test_every_yaml_recipe_in_the_docs_loads() -> None:
    for where, data in _yaml_blocks():
        try:
            recipe_from_dict(data, where=where)
        except Exception as exc:  # pragma: no cover
            raise AssertionError(f"{where}: {exc}") from exc
