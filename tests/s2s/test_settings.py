"""The settings mechanism (`s2s.settings`) on a small declaration of every kind: precedence, secrets read from
files, required settings, computed defaults, bad values and the generated docs table."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest

from s2s.errors import KDError
from s2s.settings import (
    REQUIRED,
    Computed,
    add_arguments,
    describe,
    env_of,
    flag_of,
    from_args,
    from_env,
    markdown_table,
    setting,
)


@dataclass(frozen=True)
class Example:
    """One setting of each kind."""

    ENV_PREFIX = "EX_"

    folder: Path = setting(REQUIRED, "the folder", flag="--dir", metavar="DIR", required="example folder")
    size: int = setting(3, "how many")
    mode: str = setting("fast", "how", choices=("fast", "slow"))
    loud: bool = setting(False, "shout")
    names: tuple[str, ...] = setting((), "names, repeatable")
    keys: tuple[str, ...] = setting((), "access keys", secret=True)
    url: str | None = setting(None, "a URL with its own variable", env="EX_URL_OVERRIDE")
    workers: int = setting(Computed(lambda: 7, "the cores"), "worker threads")
    local: str = setting("x", "no variable", env=None)


def parse(argv: list[str], environ: dict[str, str] | None = None) -> Example:
    parser = argparse.ArgumentParser()
    add_arguments(parser, Example)
    return from_args(Example, parser.parse_args(argv), environ or {})


def test_flags_and_variables_are_derived_unless_declared() -> None:
    assert (flag_of(Example, "folder"), env_of(Example, "folder")) == ("--dir", "EX_FOLDER")
    assert (flag_of(Example, "keys"), env_of(Example, "keys")) == ("--keys-file", "EX_KEYS")
    assert (env_of(Example, "url"), env_of(Example, "local")) == ("EX_URL_OVERRIDE", None)
    assert describe(Example, "size") == "--size (EX_SIZE)" and describe(Example, "local") == "--local"


def test_a_flag_beats_the_variable_which_beats_the_default() -> None:
    env = {"EX_FOLDER": "/env", "EX_SIZE": "5", "EX_LOUD": "yes", "EX_NAMES": "a, b,,", "EX_URL_OVERRIDE": "u"}
    from_env_only = parse([], env)
    assert (from_env_only.folder, from_env_only.size, from_env_only.loud) == (Path("/env"), 5, True)
    assert (from_env_only.names, from_env_only.url, from_env_only.workers) == (("a", "b"), "u", 7)
    flags = parse(["--dir", "/flag", "--size", "9", "--no-loud", "--names", "c", "--names", "d"], env)
    assert (flags.folder, flags.size, flags.loud, flags.names) == (Path("/flag"), 9, False, ("c", "d"))
    defaults = parse(["--dir", "d"], {"EX_SIZE": "  "})  # a blank variable is unset
    assert (defaults.size, defaults.mode, defaults.loud, defaults.names, defaults.workers) == (3, "fast", False, (), 7)
    assert from_env(Example, {"EX_FOLDER": "f"}, size=11).size == 11  # a caller's own value wins


def test_a_secret_comes_from_its_variable_a_file_it_names_or_its_flag_never_a_command_line(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text("k1\nk2, k3\n", encoding="utf-8")
    (tmp_path / "other").write_text("k9", encoding="utf-8")
    base = {"EX_FOLDER": "f"}
    assert parse([], {**base, "EX_KEYS": "a,b"}).keys == ("a", "b")
    assert parse([], {**base, "EX_KEYS_FILE": str(tmp_path / "keys")}).keys == ("k1", "k2", "k3")
    assert parse(["--keys-file", str(tmp_path / "other")], {**base, "EX_KEYS": "a"}).keys == ("k9",)
    with pytest.raises(KDError, match="give EX_KEYS or EX_KEYS_FILE"):
        parse([], {**base, "EX_KEYS": "a", "EX_KEYS_FILE": str(tmp_path / "keys")})
    with pytest.raises(KDError, match="cannot read the EX_KEYS secret from .*missing"):
        parse(["--keys-file", str(tmp_path / "missing")], base)
    (tmp_path / "placeholder").write_text("REPLACE_ME-key", encoding="utf-8")
    with pytest.raises(KDError, match="EX_KEYS secret is still the placeholder"):
        parse([], {**base, "EX_KEYS_FILE": str(tmp_path / "placeholder")})
    with pytest.raises(KDError, match="cannot read the EX_KEYS secret from the-secret-itself"):  # a path, never a key
        parse(["--keys-file", "the-secret-itself"], base)


def test_a_missing_required_setting_and_bad_values_say_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KDError, match="no example folder: pass --dir DIR or set EX_FOLDER"):
        parse([], {})
    with pytest.raises(KDError, match="environment variable EX_SIZE='many' is not a valid int"):
        parse([], {"EX_FOLDER": "f", "EX_SIZE": "many"})
    with pytest.raises(KDError, match="EX_LOUD='maybe' is not a valid bool .*yes/no"):
        parse([], {"EX_FOLDER": "f", "EX_LOUD": "maybe"})
    with pytest.raises(SystemExit):
        parse(["--dir", "d", "--mode", "medium"])
    assert "invalid choice: 'medium'" in capsys.readouterr().err


def test_help_and_the_docs_table_name_each_flag_variable_and_default_once(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit):
        parse(["--help"])
    out = capsys.readouterr().out
    assert "how many (env EX_SIZE; default 3)" in out and "the folder (env EX_FOLDER; required)" in out
    assert "--keys-file FILE" in out and "env EX_KEYS, or EX_KEYS_FILE naming a file" in out
    assert "worker threads (env EX_WORKERS; default the cores)" in out and "--loud, --no-loud" in out
    table = markdown_table(Example).splitlines()
    assert table[0] == "| flag | environment | default | meaning |" and len(table) == 2 + 9
    assert "| `--size` | `EX_SIZE` | `3` | how many |" in table
    assert "| `--mode` | `EX_MODE` | `fast` | how; one of `fast`, `slow` |" in table
    assert "| `--keys-file` | `EX_KEYS`, `EX_KEYS_FILE` | – | access keys |" in table
    assert "| `--workers` | `EX_WORKERS` | the cores | worker threads |" in table
    assert "| `EX_SIZE` | `3` | how many |" in markdown_table(Example, with_flags=False).splitlines()
