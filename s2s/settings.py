"""Declaring a setting once: a frozen dataclass field with its default, help, flag and environment variable.

`setting(...)` puts the help text, the flag, the environment variable and the allowed choices in the field's
metadata. `add_arguments` turns every field of such a dataclass into a command-line flag (its help naming the
variable and the default), and `from_args` reads them back with one precedence everywhere: the flag, then the
environment variable, then the field's default. So a library's defaults, a service's flags, its environment
variables and `--help` cannot drift apart, and no default is restated anywhere.

Why not pydantic-settings: the settings here are plain frozen dataclasses that the ML layer, the services and
`kd` share without a dependency, flags matter as much as the environment (people type `kd up --port 0`), and
the whole mechanism is the hundred lines below.

A class names its variables' prefix in `ENV_PREFIX` (e.g. `KD_TEACHER_`); a field's variable is the prefix and
its name in capitals unless the field gives another (`env="REDIS_URL"`) or none (`env=None`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

from s2s.errors import KDError

T = TypeVar("T")
_DERIVED = ""


def setting(default: Any, help: str, *, flag: str | None = None, env: str | None = _DERIVED,
            choices: tuple[str, ...] | None = None, metavar: str | None = None, required: bool = False) -> Any:
    """A dataclass field with a default, its help text, its flag (default `--<name-with-dashes>`), its
    environment variable (default: the class's `ENV_PREFIX` + NAME when the class has one; None: no variable)
    and, for strings, the allowed choices. A tuple default becomes a repeatable flag."""
    return field(default=default, metadata={"help": help, "flag": flag, "env": env, "choices": choices,
                                            "metavar": metavar, "required": required})


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return {f.name: f for f in dataclasses.fields(cls)}[name]


def flag_of(cls: type, name: str) -> str:
    """The command-line flag of field `name` of the settings dataclass `cls`."""
    return _field(cls, name).metadata.get("flag") or "--" + name.replace("_", "-")


def env_of(cls: type, name: str) -> str | None:
    """The environment variable of field `name`, or None when it has none."""
    env = _field(cls, name).metadata.get("env", _DERIVED)
    if env != _DERIVED:
        return env  # type: ignore[no-any-return]
    prefix = getattr(cls, "ENV_PREFIX", None)
    return f"{prefix}{name.upper()}" if prefix else None


def _kind(cls: type, name: str) -> tuple[Any, bool]:
    """(the value type, whether it is a tuple of that type) of a field, optional-ness stripped."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint
    if typing.get_origin(base) is tuple:
        return typing.get_args(base)[0], True
    return base, False


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                  skip: tuple[str, ...] = ()) -> None:
    """One flag per field of `cls` (fields in `skip` excepted). Flags default to None, so that `from_args`
    can tell a flag that was not given from one given with the default's value."""
    for f in dataclasses.fields(cls):
        if f.name in skip or "help" not in f.metadata:
            continue
        kind, many = _kind(cls, f.name)
        env = env_of(cls, f.name)
        shown = f.default if f.default is not dataclasses.MISSING else None
        shown = str(shown) if isinstance(shown, Path) else shown
        notes = [*([f"env {env}"] if env else []), *([f"default {shown!r}"] if shown not in (None, ()) else [])]
        help_text = (f.metadata["help"] + (f" ({'; '.join(notes)})" if notes else "")).replace("%", "%%")
        flag = flag_of(cls, f.name)
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        elif many:
            parser.add_argument(flag, dest=f.name, action="append", type=_parser(kind), default=None,
                                metavar=f.metadata.get("metavar"), help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=_parser(kind), default=None, choices=f.metadata["choices"],
                                metavar=f.metadata.get("metavar"), required=f.metadata.get("required", False),
                                help=help_text)


def from_args(cls: type[T], args: argparse.Namespace, environ: Mapping[str, str] | None = None,
              **given: Any) -> T:
    """`cls` from the flags `add_arguments` added, then the environment, then the defaults. `given` wins
    over all three (values a command computes itself)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind, many = _kind(cls, f.name)
        flag_value = getattr(args, f.name, None)
        var = env_of(cls, f.name)
        if flag_value is not None:
            values[f.name] = tuple(flag_value) if many else flag_value
        elif var is not None and env.get(var, "").strip():
            raw = env[var].strip()
            values[f.name] = (tuple(_from_env(var, x.strip(), kind) for x in raw.split(",") if x.strip())
                              if many else _from_env(var, raw, kind))
    return cls(**{**values, **given})


def _parser(kind: Any) -> Callable[[str], Any]:
    return {Path: Path, int: int, float: float, str: str}.get(kind, str)


def _from_env(var: str, raw: str, kind: Any) -> Any:
    try:
        return _parse_bool(raw) if kind is bool else _parser(kind)(raw)
    except ValueError as exc:
        raise KDError(f"environment variable {var}={raw!r} is not valid ({exc})") from exc


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("use 1/0, true/false, yes/no or on/off")


def describe(cls: type, name: str) -> str:
    """`--flag (ENV_VAR)`: how a message names a setting, e.g. one out of range."""
    env = env_of(cls, name)
    return f"{flag_of(cls, name)} ({env})" if env else flag_of(cls, name)
