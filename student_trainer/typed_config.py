"""Plain data (YAML, `--set` texts) into frozen config dataclasses, every problem named by its dotted key.

The recipe, its sections, each objective's settings and `kd up`'s plan are frozen dataclasses; this module
turns nested mappings into them, converting each value to its field's type (`int`, `float`, `bool`, `str`,
`Literal[...]`, `X | None`, fixed-length tuples, nested dataclasses). Nothing is raised here: every unknown
key and bad value is collected into `Problems`, so that one run of a command reports all of them, and a
section with a bad value is marked broken (its semantic checks would only repeat the type error).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

Problem = tuple[str, str]


@dataclass(frozen=True)
class RawText:
    """An override value as typed on the command line; parsed as YAML unless the field is a string."""

    text: str


@dataclass
class Problems:
    """What is wrong with some plain data: (dotted key, message) pairs, and the sections holding a bad value."""

    items: list[Problem] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def key(self, key: str, message: str) -> None:
        """A key that does not belong where it is (the rest of its section is still checked)."""
        self.items.append((key, message))

    def value(self, key: str, message: str, section: str | None = None) -> None:
        """A value of the wrong type: its field keeps the default, and its section (by default the key's
        parent) counts as broken."""
        self.items.append((key, message))
        self.broken.add(key.rpartition(".")[0] if section is None else section)


class BadValue(Exception):
    """A value that cannot be converted to its field's type (the message says what was expected)."""


def plain(value: Any) -> Any:
    """A section given as an override text (e.g. `--set loss={kind: ka}`) parsed as YAML."""
    return yaml.safe_load(value.text) if isinstance(value, RawText) else value


def build(cls: type, data: Any, prefix: str, problems: Problems) -> Any:
    """An instance of the dataclass `cls` from the mapping `data` (defaults for missing or bad keys).

    A dataclass with a `SHORTHAND` class attribute also accepts a plain value for the whole section, meaning
    `{SHORTHAND: value}` (e.g. `diagnostics: true`)."""
    data = plain(data)
    shorthand = getattr(cls, "SHORTHAND", None)
    if shorthand and not isinstance(data, Mapping):
        data = {shorthand: data}
    if not isinstance(data, Mapping):
        section = prefix.rstrip(".")
        problems.value(section or "recipe", f"must be a mapping of keys, got {data!r}", section)
        return cls()  # defaults stand in, so that the other sections are still checked
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            problems.key(f"{prefix}{key}", f"unknown key; known keys here: {', '.join(sorted(names))}")
    kwargs: dict[str, Any] = {}
    for name in names & set(data):
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = build(hint, data[name], f"{prefix}{name}.", problems)  # type: ignore[arg-type]
            continue
        try:
            kwargs[name] = coerce(hint, data[name])
        except BadValue as exc:
            problems.value(f"{prefix}{name}", str(exc))
    return cls(**kwargs)


def coerce(hint: Any, value: Any) -> Any:
    """`value` converted to the type `hint`, or `BadValue` saying what was expected."""
    args = typing.get_args(hint)
    if isinstance(value, RawText):
        if type(None) in args and value.text in ("null", "~", ""):
            return None
        if str in args or hint is str or value.text in args:  # `off` is a choice here, not YAML 1.1's false
            return value.text
        try:
            value = yaml.safe_load(value.text)
        except yaml.YAMLError as exc:
            raise BadValue(f"cannot parse {value.text!r}: {exc}") from exc
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return coerce(next(a for a in args if a is not type(None)), value)
    if origin is typing.Literal:
        if value not in args:
            raise BadValue(f"must be one of {', '.join(map(str, args))}; got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise BadValue(f"must be a list of {len(args)} numbers, got {value!r}")
        return tuple(coerce(a, v) for a, v in zip(args, value, strict=True))
    return _scalar(hint, value)


def to_plain(value: Any) -> Any:
    """Plain nested data (tuples as lists) of a dataclass or value, suitable for YAML and JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def _scalar(hint: Any, value: Any) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise BadValue(f"must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            number = _to_float(value) if isinstance(value, float | str) else None
        except BadValue:
            number = None
        if number is not None and number.is_integer():
            return int(number)
        raise BadValue(f"must be an integer, got {value!r}")
    if hint is float:
        return _to_float(value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise BadValue(f"must be a string, got {value!r}")
    raise BadValue(f"has an unsupported type {hint}")


def _to_float(value: Any) -> float:
    """Numbers, and strings like `1e-4` (which YAML 1.1 reads as text) as floats."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise BadValue(f"must be a number, got {value!r}")
