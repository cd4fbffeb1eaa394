"""Reading recipes: a YAML file (or a bundled recipe name) plus `--set key.sub=value` overrides.

Every key is checked against the typed dataclasses of `student_trainer.recipe`: an unknown key or a value
of the wrong type is refused with its dotted name before any work starts, and so are the semantic
problems found by `student_trainer.recipe_checks`. All problems are reported at once.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from s2s.errors import KDError
from student_trainer.recipe import Recipe
from student_trainer.recipe_checks import recipe_problems

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
T = TypeVar("T")


class RecipeError(KDError):
    """A recipe file or override is unreadable, has unknown keys or bad values."""


@dataclasses.dataclass(frozen=True)
class RawText:
    """An override value as typed on the command line; parsed as YAML unless the field is a string."""

    text: str


class _BadValue(Exception):
    pass


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
    problems: list[tuple[str, str]] = []
    recipe = _build(Recipe, data, "", problems)
    # Values of the wrong type are replaced by defaults; skip semantic checks of their sections.
    broken = {key.rpartition(".")[0] for key, message in problems if not message.startswith("unknown key")}
    problems += [p for p in recipe_problems(recipe) if p[0].rpartition(".")[0] not in broken]
    if problems:
        lines = "\n".join(f"  {key}: {message}" for key, message in problems)
        raise RecipeError(f"{where}: {len(problems)} bad recipe value(s):\n{lines}")
    return recipe


def typed_from_dict(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Any frozen config dataclass from plain data, with the recipe's type checks (unknown keys, wrong
    types) reported by dotted name in one `RecipeError`."""
    problems: list[tuple[str, str]] = []
    value = _build(cls, data, "", problems)
    if problems:
        lines = "\n".join(f"  {key}: {message}" for key, message in problems)
        raise RecipeError(f"{where}: {len(problems)} bad value(s):\n{lines}")
    return value  # type: ignore[no-any-return]


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Plain nested data (tuples as lists), suitable for YAML, JSON and sending to Ray workers."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(dataclasses.asdict(recipe))  # type: ignore[no-any-return]


def _build(cls: type, data: Any, prefix: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(data, Mapping):
        problems.append((prefix.rstrip(".") or "recipe", f"must be a mapping of keys, got {data!r}"))
        return cls()  # defaults stand in, so that the other sections are still checked
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            problems.append((f"{prefix}{key}", f"unknown key; known keys here: {', '.join(sorted(names))}"))
    kwargs: dict[str, Any] = {}
    for name in names & set(data):
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, _plain(data[name]), f"{prefix}{name}.", problems)  # type: ignore[arg-type]
            continue
        try:
            kwargs[name] = _coerce(hint, data[name])
        except _BadValue as exc:
            problems.append((f"{prefix}{name}", str(exc)))
    return cls(**kwargs)


def _plain(value: Any) -> Any:
    """A section given as an override text (e.g. `--set loss={kind: ka}`) parsed as YAML."""
    return yaml.safe_load(value.text) if isinstance(value, RawText) else value


def _coerce(hint: Any, value: Any) -> Any:
    """`value` converted to the type `hint`, or `_BadValue` saying what was expected."""
    args = typing.get_args(hint)
    if isinstance(value, RawText):
        if type(None) in args and value.text in ("null", "~", ""):
            return None
        if str in args or hint is str:
            return value.text
        try:
            value = yaml.safe_load(value.text)
        except yaml.YAMLError as exc:
            raise _BadValue(f"cannot parse {value.text!r}: {exc}") from exc
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value)
    if origin is typing.Literal:
        if value not in args:
            raise _BadValue(f"must be one of {', '.join(map(str, args))}; got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise _BadValue(f"must be a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(a, v) for a, v in zip(args, value, strict=True))
    return _scalar(hint, value)


def _scalar(hint: Any, value: Any) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _BadValue(f"must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            number = _to_float(value) if isinstance(value, float | str) else None
        except _BadValue:
            number = None
        if number is not None and number.is_integer():
            return int(number)
        raise _BadValue(f"must be an integer, got {value!r}")
    if hint is float:
        return _to_float(value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _BadValue(f"must be a string, got {value!r}")
    raise _BadValue(f"has an unsupported type {hint}")


def _to_float(value: Any) -> float:
    """Numbers, and strings like `1e-4` (which YAML 1.1 reads as text) as floats."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _BadValue(f"must be a number, got {value!r}")
