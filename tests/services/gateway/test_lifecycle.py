"""What docs/gateway.md claims about half-copied model folders and streamed bodies, over real HTTP."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def test_a_model_folder_still_being_written_is_loaded_only_once_it_stops_changing(
        serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path]) -> None:
    root = models_dir(micro=exports["f32"])
    with serve(root, poll_seconds=0.2) as gw, gw.client() as client:
        incoming = root / "incoming"
        incoming.mkdir()
        for path in exports["int8"].iterdir():
            if path.name != "model.bin":
                shutil.copy(path, incoming / path.name)
        weights = (exports["int8"] / "model.bin").read_bytes()
        seen_while_copying: list[Any] = []
        with (incoming / "model.bin").open("wb") as f:  # a slow copy: 8 pieces, one every 0.25 s
            for i in range(8):
                f.write(weights[i * len(weights) // 8: (i + 1) * len(weights) // 8])
                f.flush()
                time.sleep(0.25)
                listing = client.get("/v1/models").json()
                seen_while_copying.append(("incoming" in {m["id"] for m in listing["models"]}, listing["errors"]))
        deadline = time.monotonic() + 10
        while "incoming" not in {m["id"] for m in client.get("/v1/models").json()["models"]}:
            assert time.monotonic() < deadline, "the finished copy was never loaded"
            time.sleep(0.1)
        answer = client.post("/v1/translate", json={"text": "Hola", "model": "incoming", "max_length": 4})
    assert all(not loaded and not errors for loaded, errors in seen_while_copying), seen_while_copying
    assert answer.status_code == 200


def test_a_streamed_body_without_content_length_over_the_limit_is_a_413(f32_gateway: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"texts": ['
        for _ in range(4000):  # about 2 MB, over the 1 MiB default limit
            yield b'"' + b"a" * 500 + b'",'
        yield b'"a"]}'

    with f32_gateway.client() as client:
        response = client.post("/v1/translate", content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "payload_too_large" and "more than the limit of 1048576" in error["message"]
        assert client.get("/healthz").status_code == 200
