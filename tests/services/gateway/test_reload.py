"""Models are swapped without a restart and without failing a request in flight."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from s2s.export import export_checkpoint

TEXT = "En el principio creó Dios los cielos y la tierra."


def _wait_until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


async def _stream(url: str, stop: asyncio.Event, clients: int, max_len: int) -> list[tuple[int, str]]:
    """`clients` loops sending requests until `stop`; returns (status, translation or error) per request."""
    results: list[tuple[int, str]] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            response = await client.post("/v1/translate", json={"text": TEXT, "model": "live",
                                                                "max_length": max_len})
            body = response.json()
            results.append((response.status_code, body.get("translation") or str(body)))

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return results


def test_swap_during_a_stream_of_requests_fails_none(serve: Any, models_dir: Callable[..., Path], tmp_path: Path,
                                                     micro_checkpoint: Path, make_checkpoint: Callable[..., Path],
                                                     reference: Callable[..., list[str]], max_len: int) -> None:
    other = make_checkpoint(tmp_path / "other", seed=7)
    old, new = reference(micro_checkpoint, [TEXT], max_len)[0], reference(other, [TEXT], max_len)[0]
    assert old != new
    root = models_dir()
    export_checkpoint(micro_checkpoint, root / "live", "float32")

    async def scenario(url: str) -> tuple[list[tuple[int, str]], dict[str, Any], list[str]]:
        stop = asyncio.Event()
        stream = asyncio.create_task(_stream(url, stop, clients=4, max_len=max_len))
        async with httpx.AsyncClient(base_url=url, timeout=30) as admin:
            await asyncio.sleep(0.4)
            await asyncio.to_thread(export_checkpoint, other, root / "live", "float32")
            reload = (await admin.post("/v1/admin/reload", headers={"X-API-Key": "adm"})).json()
            await asyncio.sleep(0.4)
            after_reload = (await admin.post("/v1/translate", json={"text": TEXT, "model": "live",
                                                                    "max_length": max_len})).json()["translation"]
            await asyncio.to_thread(export_checkpoint, micro_checkpoint, root / "live", "float32")  # by polling
            for _ in range(200):
                body = (await admin.post("/v1/translate", json={"text": TEXT, "model": "live",
                                                                "max_length": max_len})).json()
                if body["translation"] == old:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
        stop.set()
        return await stream, reload, [after_reload, body["translation"]]

    with serve(root, admin_key="adm", poll_seconds=0.1) as gw:
        results, reload, checkpoints = asyncio.run(scenario(gw.url))
    statuses = {status for status, _ in results}
    seen = {text for _, text in results}
    assert statuses == {200}, [r for r in results if r[0] != 200][:3]
    assert reload["loaded"] == ["live"]
    assert checkpoints == [new, old]  # the admin reload swapped in `other`, the poll swapped `micro` back
    assert seen == {old, new}, "every answer came from one of the two versions, and both were served"
    assert len(results) > 20


def test_poll_adds_removes_and_survives_broken_folders(serve: Any, models_dir: Callable[..., Path],
                                                       exports: dict[str, Path]) -> None:
    root = models_dir(keep=exports["f32"], drop=exports["f32"])
    with serve(root, poll_seconds=0.1) as gw, gw.client() as client:
        shutil.copytree(exports["int8"], root / "broken")
        (root / "broken" / "model.bin").write_bytes(b"not a model")
        shutil.copytree(exports["int8"], root / "fresh")
        shutil.rmtree(root / "drop")
        _wait_until(lambda: set(client.get("/v1/models").json()["errors"]) == {"broken"}
                    and {m["id"] for m in client.get("/v1/models").json()["models"]} == {"keep", "fresh"})
        (root / "keep" / "export.json").write_text("{damaged")  # an update that cannot load
        _wait_until(lambda: "keep" in client.get("/v1/models").json()["errors"])
        still_served = client.post("/v1/translate", json={"text": TEXT, "model": "keep", "max_length": 4})
        dropped = client.post("/v1/translate", json={"text": TEXT, "model": "drop", "max_length": 4})
        fresh = client.post("/v1/translate", json={"text": TEXT, "model": "fresh", "max_length": 4})
        errors = client.get("/v1/models").json()["errors"]
    assert still_served.status_code == 200, "a failed update keeps the previous version in service"
    assert dropped.status_code == 404 and "unknown model 'drop'" in dropped.json()["error"]["message"]
    assert fresh.status_code == 200
    assert "export.json" in errors["keep"] and "broken" in errors
