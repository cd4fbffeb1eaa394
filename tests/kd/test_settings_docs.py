"""Every settings class (the teacher's, the gateway's, the teacher client's, `kd up`'s) is declared once: each
field has help, a flag and a variable, its command's `--help` shows them, a flag beats the variable which beats
the default, and the docs' tables are the declarations (`python -m kd.settings_docs` rewrites them)."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kd.cli import build_parser
from kd.settings_docs import REPO, TABLES, current_table, stale_tables, table, write_tables
from kd.stack.config import UpConfig
from s2s.settings import add_arguments, env_of, flag_of, from_args, settings_fields
from s2s.teacher.client_settings import ClientSettings
from services.gateway.server import add_arguments as add_gateway_arguments
from services.gateway.settings import GatewaySettings
from services.teacher.config import ServerConfig
from services.teacher.healthcheck import main as healthcheck_main

CLASSES = [cls for _, cls, _ in TABLES.values()]
NO_VARIABLE = {(ServerConfig, "model"), (UpConfig, "overrides")}  # repeatable lists given on the command line


def _kd(argv: list[str]) -> object:
    return build_parser().parse_args(argv)


HELP: dict[type, tuple[Callable[[list[str]], object], list[str]]] = {
    ServerConfig: (_kd, ["teacher", "serve"]),  # the same flags as `python -m services.teacher`
    GatewaySettings: (_kd, ["gateway"]),
    UpConfig: (_kd, ["up"]),
    ClientSettings: (healthcheck_main, []),
}
"""The command that shows a class's flags: (its main or parser, the arguments before `--help`)."""


def test_the_tables_cover_every_settings_class() -> None:
    assert set(CLASSES) == {ServerConfig, GatewaySettings, UpConfig, ClientSettings}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_setting_has_help_a_flag_and_a_variable_that_help_shows(
        cls: type, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per flag: nothing wrapped mid-name
    run, argv = HELP[cls]
    with pytest.raises(SystemExit):
        run([*argv, "--help"])
    entries = [" ".join(x.split()) for x in re.split(r"\n  (?=-)", capsys.readouterr().out)]  # one per flag
    for f in settings_fields(cls):
        assert f.metadata["help"].strip(), f"{cls.__name__}.{f.name} has no help"
        var = env_of(cls, f.name)
        assert var or (cls, f.name) in NO_VARIABLE, f"{cls.__name__}.{f.name} has no environment variable"
        if cls is ClientSettings and f.name == "token_file":
            continue  # the health check needs no token; the client reads the variable only
        entry = next((x for x in entries if re.match(rf"{re.escape(flag_of(cls, f.name))}\b", x)), None)
        assert entry is not None, f"`--help` lacks {flag_of(cls, f.name)}"
        assert var is None or f"env {var}" in entry, f"`--help` of {flag_of(cls, f.name)} does not name {var}"
    plain = [f.name for f in dataclasses.fields(cls) if f not in settings_fields(cls)]
    assert plain == (["corpus", "languages"] if cls is UpConfig else []), "a field declared without setting()"


def _parse(cls: type, argv: list[str], env: dict[str, str]) -> object:
    if cls in (ServerConfig, UpConfig):  # through kd's own parser
        command = ["teacher", "serve", "--model", "m"] if cls is ServerConfig else ["up"]
        return from_args(cls, build_parser().parse_args([*command, *argv]), env)
    parser = argparse.ArgumentParser()
    (add_gateway_arguments if cls is GatewaySettings else lambda p: add_arguments(p, ClientSettings))(parser)
    return from_args(cls, parser.parse_args(argv), env)


@pytest.mark.parametrize(("cls", "name", "flag_value", "env_value", "expected"), [
    (ServerConfig, "max_wait_ms", "3", "7.5", (3.0, 7.5, 5.0)),
    (GatewaySettings, "max_batch", "8", "16", (8, 16, 32)),
    (UpConfig, "bind", "10.0.0.7", "192.0.2.1", ("10.0.0.7", "192.0.2.1", "127.0.0.1")),
    (ClientSettings, "tls_ca", "flag.pem", "env.pem", (Path("flag.pem"), Path("env.pem"), None)),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_a_flag_beats_the_variable_which_beats_the_default(
        cls: type, name: str, flag_value: str, env_value: str, expected: tuple[object, object, object]) -> None:
    flag, var = flag_of(cls, name), env_of(cls, name)
    assert var is not None
    base = {"KD_GATEWAY_MODELS_DIR": "models"} if cls is GatewaySettings else {}
    env = {**base, var: env_value}
    got = (getattr(_parse(cls, [flag, flag_value], env), name), getattr(_parse(cls, [], env), name),
           getattr(_parse(cls, [], base), name))
    assert got == expected


def test_the_docs_tables_are_the_declarations() -> None:
    stale = stale_tables()
    assert not stale, ("docs tables differ from their declarations; run `python -m kd.settings_docs`: "
                       + ", ".join(f"{name} in {TABLES[name][0]}" for name in stale))
    teacher = current_table((REPO / "docs" / "teacher.md").read_text(encoding="utf-8"), "teacher")
    assert teacher is not None and "| `--max-batch-tokens` | `KD_TEACHER_MAX_BATCH_TOKENS` | `8192` |" in teacher


def test_rewriting_a_stale_table_keeps_the_prose_around_it(tmp_path: Path) -> None:
    for page in {page for page, _, _ in TABLES.values()}:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        text = (REPO / page).read_text(encoding="utf-8")
        (tmp_path / page).write_text(text.replace("| `--port` |", "| `--old-port` |"), encoding="utf-8")
    assert set(stale_tables(tmp_path)) >= {"teacher", "gateway", "kd-up"}
    write_tables(tmp_path)
    assert stale_tables(tmp_path) == []
    for page in {page for page, _, _ in TABLES.values()}:
        assert (tmp_path / page).read_text(encoding="utf-8") == (REPO / page).read_text(encoding="utf-8")
    assert table("teacher-client").startswith("| environment | default | meaning |")
