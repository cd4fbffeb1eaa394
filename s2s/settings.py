"""Declaring a setting once: a frozen dataclass field with its default, help, flag and environment variable.

`setting(...)` puts the help text, the flag, the environment variable and the allowed choices in the field's
metadata. `add_arguments` turns every field of such a dataclass into a command-line flag (its help naming the
variable and the default), `from_args` (and `from_env`, for programs without flags) reads them back with one
precedence everywhere: the flag, then the environment variable, then the field's default; and
`markdown_table` writes the docs' settings tables from the same declarations. So a service's defaults, its
flags, its environment variables, `--help` and the docs cannot drift apart, and no default is restated.

Why not pydantic-settings: the settings here are plain frozen dataclasses that the ML layer, the services and
`kd` share without a dependency, flags matter as much as the environment (people type `kd up --port 0`), and
the whole mechanism is the two hundred lines below.

A class names its variables' prefix in a class attribute `ENV_PREFIX` (e.g. `KD_TEACHER_`); a field's variable
is the prefix and its name in capitals unless the field gives another (`env="REDIS_URL"`) or none (`env=None`).
The kinds of setting:
- a value (`str`, `int`, `float`, `Path`, optional or not), `choices` restricting a string;
- a `bool`: `--x` / `--no-x`, and `1/0, true/false, yes/no, on/off` in its variable;
- a tuple: a repeatable flag, and a comma-separated variable;
- a `secret=True` one (a key, a list of keys): never on a command line, where every local user can read it in
  `ps`. Its flag is `--<name>-file FILE` and it is read from that file, or from the variable, or from the
  file that `<VARIABLE>_FILE` names (Docker and Kubernetes secrets are mounted files);
- a required one (`REQUIRED` as its default, or `required=True`): a start without it says what to give;
- a `Computed` default, made when the settings are (e.g. the machine's cores), shown by its description.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

from s2s.errors import KDError
from s2s.secret_files import read_secret

T = TypeVar("T")
_DERIVED = ""
REQUIRED: Any = dataclasses.MISSING
"""The default of a setting that has none: it must be given, by its flag or its variable."""


@dataclasses.dataclass(frozen=True)
class Computed:
    """A default made when the settings are (`factory()`), described in help and docs as `shown`."""

    factory: Callable[[], Any]
    shown: str


def setting(default: Any, help: str, *, flag: str | None = None, env: str | None = _DERIVED,
            choices: tuple[str, ...] | None = None, metavar: str | None = None, required: bool | str = False,
            secret: bool = False) -> Any:
    """A dataclass field with a default, its help text, its flag (default `--<name-with-dashes>`, or
    `--<name>-file` for a secret), its environment variable (default: the class's `ENV_PREFIX` + NAME when the
    class has one; None: no variable) and, for strings, the allowed choices. A tuple default becomes a
    repeatable flag. `required` may name what is missing (`"models folder"`) for the error that says so."""
    metadata = {"help": help, "flag": flag, "env": env, "choices": choices, "metavar": metavar,
                "required": required, "secret": secret}
    if isinstance(default, Computed):
        return field(default_factory=default.factory, metadata={**metadata, "shown": default.shown})
    return field(default=default, metadata=metadata)


def settings_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of `cls` declared with `setting` (other fields are values a program passes itself)."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return {f.name: f for f in dataclasses.fields(cls)}[name]


def flag_of(cls: type, name: str) -> str:
    """The command-line flag of field `name` of the settings dataclass `cls`."""
    f = _field(cls, name)
    return f.metadata.get("flag") or "--" + name.replace("_", "-") + ("-file" if f.metadata.get("secret") else "")


def env_of(cls: type, name: str) -> str | None:
    """The environment variable of field `name`, or None when it has none."""
    env = _field(cls, name).metadata.get("env", _DERIVED)
    if env != _DERIVED:
        return env  # type: ignore[no-any-return]
    prefix = getattr(cls, "ENV_PREFIX", None)
    return f"{prefix}{name.upper()}" if prefix else None


def describe(cls: type, name: str) -> str:
    """`--flag (ENV_VAR)`: how a message names a setting, e.g. one out of range."""
    env = env_of(cls, name)
    return f"{flag_of(cls, name)} ({env})" if env else flag_of(cls, name)


def is_required(f: dataclasses.Field[Any]) -> bool:
    """Whether a setting must be given (it has no default, or is declared required)."""
    no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    return bool(f.metadata.get("required")) or no_default


def shown_default(f: dataclasses.Field[Any], literal: Callable[[Any], str] = repr) -> str | None:
    """How help and docs show a setting's default (`literal` formats a declared value; a `Computed` one shows
    its description); None when there is none worth showing (none, None, empty)."""
    if "shown" in f.metadata:
        return str(f.metadata["shown"])
    if f.default in (dataclasses.MISSING, None, ()):
        return None
    return literal(str(f.default) if isinstance(f.default, Path) else f.default)


def kind_of(cls: type, name: str) -> tuple[Any, bool]:
    """(the value type, whether it is a tuple of that type) of a field, optional-ness stripped."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint
    if typing.get_origin(base) is tuple:
        return typing.get_args(base)[0], True
    return base, False


def help_of(cls: type, name: str) -> str:
    """The help text with its variable(s) and its default (or `required`) appended."""
    f, env = _field(cls, name), env_of(cls, name)
    notes = [f"env {env}" + (f", or {env}_FILE naming a file" if f.metadata.get("secret") else "")] if env else []
    shown = shown_default(f)
    notes += ["required"] if is_required(f) else [f"default {shown}"] if shown is not None else []
    return f.metadata["help"] + (f" ({'; '.join(notes)})" if notes else "")


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                  skip: tuple[str, ...] = ()) -> None:
    """One flag per setting of `cls` (fields in `skip` excepted). Flags default to None, so that `from_args`
    can tell a flag that was not given from one given with the default's value."""
    for f in settings_fields(cls):
        if f.name in skip:
            continue
        kind, many = kind_of(cls, f.name)
        flag, help_text = flag_of(cls, f.name), help_of(cls, f.name).replace("%", "%%")
        required = is_required(f) and env_of(cls, f.name) is None  # else the environment may still give it
        if f.metadata.get("secret"):
            parser.add_argument(flag, dest=f.name, type=Path, default=None, metavar="FILE", help=help_text)
        elif kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=_parser(kind), default=None, choices=f.metadata["choices"],
                                metavar=f.metadata.get("metavar"), required=required, help=help_text,
                                action="append" if many else "store")


def from_args(cls: type[T], args: argparse.Namespace, environ: Mapping[str, str] | None = None,
              **given: Any) -> T:
    """`cls` from the flags `add_arguments` added, then the environment, then the defaults. `given` wins
    over all three (values a command computes itself). A required setting given nowhere is refused, naming
    its flag and variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in settings_fields(cls):  # type: ignore[arg-type]
        if f.name in given:
            continue
        value = _from_flag(cls, f, getattr(args, f.name, None))
        value = _from_environment(cls, f, env) if value is None else value
        if value is not None:
            values[f.name] = value
        elif is_required(f):
            raise KDError(_missing(cls, f))
    return cls(**{**values, **given})


def from_env(cls: type[T], environ: Mapping[str, str] | None = None, **given: Any) -> T:
    """`cls` from the environment and the defaults, for code that has no flags (a client library)."""
    return from_args(cls, argparse.Namespace(), environ, **given)


def _from_flag(cls: type, f: dataclasses.Field[Any], value: Any) -> Any:
    if value is None:
        return None
    kind, many = kind_of(cls, f.name)
    if f.metadata.get("secret"):
        what = f"{env_of(cls, f.name) or flag_of(cls, f.name)} secret"
        return _parse_text(f"the {what} in {value}", read_secret(Path(value), what), kind, many, show=False)
    return tuple(value) if many else value


def _from_environment(cls: type, f: dataclasses.Field[Any], env: Mapping[str, str]) -> Any:
    var = env_of(cls, f.name)
    if var is None:
        return None
    kind, many = kind_of(cls, f.name)
    raw, file = env.get(var, "").strip(), env.get(f"{var}_FILE", "").strip() if f.metadata.get("secret") else ""
    if raw and file:
        raise KDError(f"give {var} or {var}_FILE (a file holding it), not both")
    if file:
        return _parse_text(f"the {var}_FILE secret", read_secret(Path(file), f"{var} secret"), kind, many, show=False)
    return _parse_text(f"environment variable {var}", raw, kind, many) if raw else None


def _parse_text(source: str, raw: str, kind: Any, many: bool, show: bool = True) -> Any:
    """A value from text (a variable, a secret file): a tuple from comma- or line-separated parts when `many`."""
    parts = [part.strip() for part in re.split(r"[,\n]", raw)] if many else [raw]
    try:
        values = tuple(_parse_bool(p) if kind is bool else _parser(kind)(p) for p in parts if p)
    except ValueError as exc:
        shown = f"={raw!r}" if show else ""
        raise KDError(f"{source}{shown} is not a valid {_KIND_NAMES.get(kind, 'value')} ({exc})") from exc
    return values if many else values[0]


_KIND_NAMES = {int: "int", float: "float", bool: "bool", Path: "path", str: "string"}


def _parser(kind: Any) -> Callable[[str], Any]:
    return {Path: Path, int: int, float: float, str: str}.get(kind, str)


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("use 1/0, true/false, yes/no or on/off")


def _missing(cls: type, f: dataclasses.Field[Any]) -> str:
    what = f.metadata["required"] if isinstance(f.metadata.get("required"), str) else f.name.replace("_", " ")
    metavar = f.metadata.get("metavar")
    given = f"{flag_of(cls, f.name)}{' ' + metavar if metavar else ''}"
    env = env_of(cls, f.name)
    return f"no {what}: pass {given}" + (f" or set {env}" if env else "")


def markdown_table(cls: type, with_flags: bool = True) -> str:
    """The settings of `cls` as a Markdown table (flag, variable, default, meaning), for the docs; without the
    flag column for settings that programs read from the environment only (a client library)."""
    rows = ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for f in settings_fields(cls):
        kind, many = kind_of(cls, f.name)
        flag, var, secret = flag_of(cls, f.name), env_of(cls, f.name), f.metadata.get("secret")
        flags = (f"`{flag}`, `--no-{flag[2:]}`" if kind is bool and not secret
                 else f"`{flag}` (repeatable)" if many and not secret else f"`{flag}`")
        envs = (f"`{var}`" + (f", `{var}_FILE`" if secret else "")) if var else "–"
        shown = shown_default(f, lambda value: f"`{value}`")
        default = "required" if is_required(f) else shown if shown is not None else "–"
        choices = f"; one of {', '.join(f'`{c}`' for c in f.metadata['choices'])}" if f.metadata["choices"] else ""
        meaning = f.metadata["help"].replace("|", r"\|").replace("<", "&lt;").replace(">", "&gt;")
        rows.append("| " + " | ".join([flags, envs, default, meaning + choices]) + " |")
    if not with_flags:
        rows = ["| " + row.split(" | ", 1)[1] for row in rows]  # the first column dropped
    return "\n".join(rows)
