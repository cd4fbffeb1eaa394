"""Reading recipes: a YAML file (or a bundled recipe name) plus `--set key.sub=value` overrides.

Every key is checked against the typed dataclasses of `student_trainer.recipe` (`student_trainer.typed_config`
converts the values): an unknown key or a value of the wrong type is refused with its dotted name before any
work starts, and so are the semantic problems found by `student_trainer.recipe_checks`. The `loss` section
is the settings of the objective its `kind` names, read from the objectives' registry: a key that is not
one of that objective's settings is refused naming the key and the objective. All problems are reported
at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from s2s.errors import KDError
from student_trainer.objectives.registry import (
    ObjectiveInfo,
    UnknownObjective,
    default_settings,
    lookup,
    names,
    objectives,
)
from student_trainer.objectives.settings import ObjectiveSettings
from student_trainer.recipe import Recipe
from student_trainer.recipe_checks import recipe_problems
from student_trainer.typed_config import BadValue, Problems, RawText, build, coerce, plain, to_plain

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DIAGNOSTIC_SIZES = ("k", "k_prime")  # loss keys that also size the diagnostics (`Recipe.diagnostic_sizes`)
T = TypeVar("T")


class RecipeError(KDError):
    """A recipe file or override is unreadable, has unknown keys or bad values."""


def bundled_recipes() -> list[str]:
    """Names of the recipes shipped in `student_trainer/recipes/`."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def find_recipe(spec: str | Path) -> Path:
    """A recipe path: `spec` itself when it is a file, else the bundled recipe of that name."""
    path = Path(spec)
    if path.is_file():
        return path
    bundled = RECIPES_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if path.parent == Path(".") and bundled.is_file():
        return bundled
    raise RecipeError(f"recipe {str(spec)!r} is neither a file nor a bundled recipe; "
                      f"bundled recipes: {', '.join(bundled_recipes())}")


def load_recipe(spec: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe file (or bundled name), apply `key.sub=value` overrides, and validate everything."""
    path = find_recipe(spec)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{path} must hold a mapping of recipe keys, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    for item in overrides:
        apply_override(data, item)
    return recipe_from_dict(data, where=str(path))


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set `key.sub=value` in the nested dict `data` (the value is kept as text until its type is known)."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"override {item!r} must look like key.sub=value (e.g. loss.alpha=0.5)")
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"override {item!r}: {'.'.join(parts[: i + 1])} is a value, not a section")
        node = child
    node[parts[-1]] = RawText(value.strip())


def recipe_from_dict(data: Mapping[str, Any], where: str = "recipe") -> Recipe:
    """Build and validate a `Recipe` from nested plain data; raises `RecipeError` naming every bad key."""
    problems = Problems()
    body = dict(data)
    loss_data = body.pop("loss", {})
    recipe = build(Recipe, body, "", problems)
    loss, sizes = read_loss(loss_data, recipe.diagnostics.enabled, problems)
    diagnostics = recipe.diagnostics
    for key, value in sizes.items():
        if getattr(diagnostics, key) not in (None, value):
            problems.key(f"loss.{key}", f"sizes the diagnostics, but diagnostics.{key} says "
                                        f"{getattr(diagnostics, key)}: set one of them")
    recipe = dataclasses.replace(recipe, loss=loss, diagnostics=dataclasses.replace(diagnostics, **{
        key: value for key, value in sizes.items() if getattr(diagnostics, key) is None}))
    # Values of the wrong type are replaced by defaults; skip semantic checks of their sections.
    problems.items += [p for p in recipe_problems(recipe) if p[0].rpartition(".")[0] not in problems.broken]
    _raise(problems, where, "recipe value(s)")
    return recipe


def read_loss(data: Any, diagnostics: bool, problems: Problems) -> tuple[ObjectiveSettings, dict[str, int]]:
    """The `loss:` section as the settings of the objective its `kind` names (the registry's), and the
    diagnostics' sizes when it writes `k`/`k_prime` for an objective without them (with diagnostics on).

    Every other key must be a setting of that objective: a key of another objective is refused naming both,
    so that `loss: {kind: ka, alpha: 0.5}` says that KA is mixed by `lam`."""
    data = plain(data)
    if not isinstance(data, Mapping):
        problems.value("loss", f"must be a mapping of keys, got {data!r}", "loss")
        return default_settings(), {}
    try:
        info = lookup(coerce(str, data.get("kind", "nll")))
    except (BadValue, UnknownObjective):
        problems.value("loss.kind", f"must be one of {', '.join(names())}; got {plain(data.get('kind'))!r}")
        return default_settings(), {}
    own = set(info.settings.setting_names())
    sizes: dict[str, int] = {}
    for key in [k for k in data if k not in own and k != "kind"]:
        if key in DIAGNOSTIC_SIZES and diagnostics:
            try:
                sizes[key] = coerce(int, data[key])
            except BadValue as exc:
                problems.value(f"loss.{key}", str(exc))
            continue
        problems.key(f"loss.{key}", _not_a_setting(str(key), info))
    settings = build(info.settings, {k: v for k, v in data.items() if k in own}, "loss.", problems)
    return settings, sizes


def _not_a_setting(key: str, info: ObjectiveInfo) -> str:
    owners = [o.name for o in objectives() if key in o.settings.setting_names()]
    known = f"the {info.name} objective's settings are: kind, {', '.join(info.settings.setting_names())}"
    if not owners:
        return f"unknown key; {known}"
    hint = "; with diagnostics: true it sizes the diagnostics" if key in DIAGNOSTIC_SIZES else ""
    return f"not a setting of the {info.name} objective but of {', '.join(owners)}{hint}; {known}"


def typed_from_dict(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Any frozen config dataclass from plain data, with the recipe's type checks (unknown keys, wrong
    types) reported by dotted name in one `RecipeError`."""
    problems = Problems()
    value = build(cls, data, "", problems)
    _raise(problems, where, "value(s)")
    return value  # type: ignore[no-any-return]


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Plain nested data (tuples as lists), suitable for YAML, JSON and sending to Ray workers; the loss
    section names its objective first (`kind`), then that objective's settings."""
    data: dict[str, Any] = to_plain(recipe)
    data["loss"] = {"kind": recipe.loss.kind, **data["loss"]}
    return data


def _raise(problems: Problems, where: str, what: str) -> None:
    if problems.items:
        lines = "\n".join(f"  {key}: {message}" for key, message in problems.items)
        raise RecipeError(f"{where}: {len(problems.items)} bad {what}:\n{lines}")
