"""Declaring a setting once: a frozen dataclass field with its default, help text and command-line flag.

`setting(...)` puts the help and the flag in the field's metadata; `kd.args.add_settings_arguments` turns
every field of such a dataclass into a flag and `kd.args.settings_from_args` reads them back, so the library's
defaults, the CLI's flags and `--help` cannot drift apart. (The teacher server's `ServerConfig` does the same,
with environment variables on top.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any


def setting(default: Any, help: str, *, flag: str | None = None, metavar: str | None = None) -> Any:
    """A dataclass field with a default, its help text and its flag (default `--<name-with-dashes>`)."""
    return field(default=default, metadata={"help": help, "flag": flag, "metavar": metavar})


def flag_of(cls: type, name: str) -> str:
    """The command-line flag of field `name` of the settings dataclass `cls`."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f.metadata.get("flag") or "--" + name.replace("_", "-")
