"""Unloadable model folders are each their own error: the poll loop, the other folders, readiness and shutdown
survive every kind of damage an operator can drop into the models folder (real HTTP, real polling)."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.gateway.registry import ModelRegistry, without_paths
from services.gateway.service import Gateway
from services.gateway.settings import GatewaySettings

TEXT = "En el principio creó Dios los cielos y la tierra."


class _Evil:
    """A pickle that would run a command when unpickled without `weights_only`."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("this pickle ran code",))


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not reached in time: {what}"
        time.sleep(0.05)


def _damaged_folders(root: Path, checkpoint: Path, export: Path) -> dict[str, str]:
    """Drop one folder per kind of damage into `root`; returns id -> what is wrong with it."""
    damage = {}
    shutil.copytree(checkpoint, root / "truncated-safetensors")
    weights = root / "truncated-safetensors" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    damage["truncated-safetensors"] = "a safetensors file cut short"

    shutil.copytree(checkpoint, root / "pickle-bin")
    (root / "pickle-bin" / "model.safetensors").unlink()
    (root / "pickle-bin" / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": _Evil()}, protocol=2))
    damage["pickle-bin"] = "a pickle .bin that weights-only loading refuses"

    shutil.copytree(checkpoint, root / "bad-config")
    config = json.loads((root / "bad-config" / "config.json").read_text())
    config["d_model"] = "wide"
    (root / "bad-config" / "config.json").write_text(json.dumps(config))
    damage["bad-config"] = "a config.json field of the wrong type"

    shutil.copytree(checkpoint, root / "config-not-object")
    (root / "config-not-object" / "config.json").write_text("[1, 2, 3]")
    damage["config-not-object"] = "a config.json that is not an object"

    shutil.copytree(export, root / "truncated-export")
    model_bin = root / "truncated-export" / "model.bin"
    model_bin.write_bytes(model_bin.read_bytes()[:2000])
    damage["truncated-export"] = "a CTranslate2 model.bin cut short"
    return damage


def test_damaged_folders_are_their_own_errors_and_later_folders_still_load(
        serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path], micro_checkpoint: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    root = models_dir(good=exports["f32"])
    caplog.set_level(logging.INFO, logger="services.gateway")
    with serve(root, poll_seconds=0.1, settle_seconds=0) as gw, gw.client() as client:
        damage = _damaged_folders(root, micro_checkpoint, exports["int8"])
        _wait_until(lambda: set(client.get("/v1/models").json()["errors"]) == set(damage), "every error reported")
        shutil.copytree(exports["int8"], root / "late")  # added after the failures: still picked up
        _wait_until(lambda: "late" in {m["id"] for m in client.get("/v1/models").json()["models"]}, "late loaded")
        listing = client.get("/v1/models").json()
        ready = client.get("/readyz")
        shutil.rmtree(root / "bad-config")  # repaired: retried because its files changed
        shutil.copytree(micro_checkpoint, root / "bad-config")
        _wait_until(lambda: "bad-config" in {m["id"] for m in client.get("/v1/models").json()["models"]},
                    "the repaired folder loaded")
        served = {m: client.post("/v1/translate", json={"text": TEXT, "model": m, "max_length": 4}).status_code
                  for m in ("good", "late", "bad-config")}
        after_repair = client.get("/v1/models").json()["errors"]
    assert {m["id"] for m in listing["models"]} == {"good", "late"}
    for model_id, message in listing["errors"].items():
        assert str(root) not in message and "/tmp" not in message, (model_id, message)
    assert listing["errors"]["truncated-safetensors"].startswith("CheckpointError: truncated-safetensors: the model")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "models": 2, "failed": sorted(damage)}
    assert served == {"good": 200, "late": 200, "bad-config": 200}
    assert set(after_repair) == set(damage) - {"bad-config"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for model_id in damage:  # the log names the folder in full, for the operator
        assert any(f"could not load model {model_id} from {root / model_id}" in w for w in warnings), model_id
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "shutdown or polling logged an error"


def test_readiness_says_which_folders_failed_and_why_without_paths(
        serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path], micro_checkpoint: Path) -> None:
    root = models_dir()
    _damaged_folders(root, micro_checkpoint, exports["int8"])
    with serve(root, poll_seconds=0.1, settle_seconds=0) as gw, gw.client() as client:
        not_ready = client.get("/readyz")
        shutil.copytree(exports["int8"], root / "good")
        _wait_until(lambda: client.get("/readyz").status_code == 200, "ready once a good folder appears")
    message = not_ready.json()["error"]["message"]
    assert not_ready.status_code == 503 and "5 model folder(s) failed to load" in message
    assert "truncated-export" in message and "pickle-bin" in message
    assert str(root) not in message and "/tmp" not in message


def test_an_empty_folder_is_not_ready_without_naming_the_path(serve: Any, models_dir: Callable[..., Path]) -> None:
    root = models_dir()
    with serve(root) as gw, gw.client() as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert str(root) not in answer.text and "holds no model yet" in answer.json()["error"]["message"]


def test_a_failed_update_keeps_the_old_version_and_is_not_retried_until_it_changes(
        models_dir: Callable[..., Path], exports: dict[str, Path]) -> None:
    root = models_dir(live=exports["f32"])

    async def scenario() -> list[Any]:
        registry = ModelRegistry(root, threads=1, settle_s=0)
        first = await registry.refresh()
        first_model = registry.models["live"]
        (root / "live" / "model.bin").write_bytes(b"garbage")
        await registry.refresh(settle=True)  # seen once: waits to settle
        broken = await registry.refresh(settle=True)
        kept = registry.models["live"] is first_model
        again = await registry.refresh(settle=True)  # unchanged since it failed: not reloaded
        shutil.rmtree(root / "live")
        shutil.copytree(exports["int8"], root / "live")  # a new version (other files than the one in service)
        await registry.refresh(settle=True)
        fixed = await registry.refresh(settle=True)
        return [first, broken, kept, again, fixed, registry]

    first, broken, kept, again, fixed, registry = asyncio.run(scenario())
    assert first.loaded == ["live"]
    assert list(broken.failed) == ["live"] and kept, "the previous version stays in service"
    assert again.unchanged == ["live"] and not again.failed
    assert fixed.loaded == ["live"] and not registry.errors


def test_the_poll_loop_survives_any_exception_and_shutdown_is_clean(
        models_dir: Callable[..., Path], exports: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    root = models_dir(good=exports["f32"])
    gateway = Gateway(GatewaySettings(models_dir=root, poll_seconds=0.05, threads=1))
    calls = {"n": 0}
    real_refresh = gateway.registry.refresh

    async def flaky(settle: bool = False) -> Any:
        calls["n"] += 1
        if calls["n"] in (2, 3):
            raise ZeroDivisionError("a bug nobody foresaw")
        return await real_refresh(settle)

    monkeypatch.setattr(gateway.registry, "refresh", flaky)

    async def scenario() -> tuple[bool, bool]:
        await gateway.start()
        while calls["n"] < 6:
            await asyncio.sleep(0.02)
        polling = gateway.polling
        ready = gateway.readiness().ready
        await gateway.stop()
        return polling, ready

    assert asyncio.run(scenario()) == (True, True)
    assert any("polling the models folder failed" in r.getMessage() for r in caplog.records)


def test_without_paths_keeps_names_and_drops_directories() -> None:
    folder = Path("/srv/kd/models/broken")
    message = ("CheckpointError: /srv/kd/models/broken: the model weights do not load (OSError: "
               "/srv/kd/models/broken/model.safetensors is cut short; see /usr/lib/python3/x.py, 1/2 and/or "
               "http://example.com/a/b)")
    assert without_paths(message, folder) == (
        "CheckpointError: broken: the model weights do not load (OSError: broken/model.safetensors is cut "
        "short; see x.py, 1/2 and/or http://example.com/a/b)")
