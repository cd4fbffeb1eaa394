"""Server settings: flags, environment fallbacks, validation, and `kd teacher serve` taking the same flags."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from kd.cli import build_parser
from s2s.errors import KDError
from services.teacher.config import ServerConfig, add_serve_arguments, config_from_args
from services.teacher.server import TeacherServer


def _module_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_environment_fills_in_unset_flags() -> None:
    env = {"KD_TEACHER_DEVICE": "cpu", "KD_TEACHER_MAX_BATCH_TOKENS": "2048", "KD_TEACHER_MAX_WAIT_MS": "7.5",
           "KD_TEACHER_CACHE_TTL_S": "60", "REDIS_URL": "redis://cache:6379/1", "KD_TEACHER_DYNAMIC_BATCHING": "off",
           "KD_TEACHER_METRICS_PORT": "9100"}
    config = config_from_args(_module_args(["--model", "m"]), env)
    assert (config.device, config.max_batch_tokens, config.max_wait_ms, config.cache_ttl_s) == ("cpu", 2048, 7.5, 60)
    assert (config.redis_url, config.dynamic_batching, config.metrics_port) == ("redis://cache:6379/1", False, 9100)


def test_flags_win_over_the_environment_and_defaults_apply_otherwise() -> None:
    env = {"KD_TEACHER_MAX_BATCH_TOKENS": "2048", "REDIS_URL": "redis://env:6379/0"}
    argv = ["--model", "m", "--max-batch-tokens", "4096", "--redis-url", "redis://flag:6379/0"]
    config = config_from_args(_module_args(argv), env)
    assert (config.max_batch_tokens, config.redis_url) == (4096, "redis://flag:6379/0")
    defaults = config_from_args(_module_args(["--model", "m"]), {})
    assert (defaults.device, defaults.redis_url, defaults.dynamic_batching, defaults.metrics_port) == (
        "auto", None, True, None)


def test_bad_environment_values_name_the_variable() -> None:
    with pytest.raises(KDError, match="KD_TEACHER_MAX_WAIT_MS='soon'"):
        config_from_args(_module_args(["--model", "m"]), {"KD_TEACHER_MAX_WAIT_MS": "soon"})


def test_out_of_range_settings_are_refused() -> None:
    with pytest.raises(KDError, match="--max-batch-tokens \\(KD_TEACHER_MAX_BATCH_TOKENS\\)"):
        ServerConfig(model=Path("m"), max_batch_tokens=10)


def test_every_setting_is_declared_once_with_its_flag_variable_and_default(capsys: pytest.CaptureFixture[str]) -> None:
    """The flags are generated from the dataclass: one per field, each help naming its variable and default;
    the defaults are the dataclass's (listening on loopback unless told otherwise)."""
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    flags = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(flags) == set(ServerConfig.__dataclass_fields__)
    for name, action in flags.items():
        if name not in ("model", "redis_url"):
            assert f"KD_TEACHER_{name.upper()}" in (action.help or ""), name
    assert "REDIS_URL" in (flags["redis_url"].help or "")
    defaults = config_from_args(_module_args(["--model", "m"]), {})
    assert defaults == ServerConfig(model=Path("m")) and defaults.host == "127.0.0.1"
    assert config_from_args(_module_args(["--model", "m"]), {"KD_TEACHER_GENERATE_ENGINE": "ctranslate2"}
                            ).generate_engine == "ctranslate2"


def test_model_repeats_into_an_ensemble_with_its_weights() -> None:
    config = config_from_args(_module_args(["--model", "a", "--model", "b", "--weights", "3,1"]), {})
    assert config.model == (Path("a"), Path("b")) and config.mixture_weights == (0.75, 0.25)
    assert config_from_args(_module_args(["--model", "a", "--model", "b"]), {}).mixture_weights == (0.5, 0.5)
    assert ServerConfig(model=Path("a")).model == (Path("a"),)  # one folder, as before
    via_env = config_from_args(_module_args(["--model", "a", "--model", "b"]), {"KD_TEACHER_WEIGHTS": "1,4"})
    assert via_env.mixture_weights == (0.2, 0.8)


@pytest.mark.parametrize(("argv", "message"), [
    (["--weights", "1"], "gives 1 weights for 2"),
    (["--weights", "1,x"], "one number per --model"),
    (["--weights", "1,-1"], "positive"),
    (["--generate-engine", "ctranslate2"], "decodes one model"),
    (["--model", "a"], "given twice"),
])
def test_bad_ensemble_settings_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(KDError, match=message):
        config_from_args(_module_args(["--model", "a", "--model", "b", *argv]), {})


def test_kd_teacher_serve_accepts_exactly_the_module_flags() -> None:
    argv = ["--model", "m", "--port", "5005", "--device", "cpu", "--max-wait-ms", "3", "--no-dynamic-batching",
            "--metrics-port", "9000", "--cache-ttl-s", "99", "--max-k", "16", "--model", "n", "--engine", "ctranslate2",
            "--engine-quantization", "int8"]
    via_kd = build_parser().parse_args(["teacher", "serve", *argv])
    assert config_from_args(via_kd, {}) == config_from_args(_module_args(argv), {})


def test_a_port_in_use_is_a_clear_error(micro_checkpoint: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(KDError, match=f"cannot listen on 127.0.0.1:{port}"):
            TeacherServer(ServerConfig(model=micro_checkpoint, host="127.0.0.1", port=port, device="cpu"))
