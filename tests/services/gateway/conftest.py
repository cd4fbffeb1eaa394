"""Fixtures of the gateway tests: tiny exports and a real uvicorn server on a free loopback port.

The server runs `uvicorn.Server` in a thread with a socket bound to port 0, so each test gets its own
gateway (own settings, own models folder) in well under a second, talking real HTTP.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from s2s.checkpoint import Manifest, load_checkpoint, save_checkpoint
from s2s.decoding import translate
from s2s.export import export_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import Tokenizer
from services.gateway.app import create_app
from services.gateway.service import Gateway
from services.gateway.settings import GatewaySettings

SENTENCES = [
    "En el principio creó Dios los cielos y la tierra.",
    "Y dijo Dios: Sea la luz; y fue la luz.",
    "Jesús lloró.",
    "Porque de tal manera amó Dios al mundo.",
    "El Señor es mi pastor; nada me faltará.",
    "Hola",
]
MAX_LEN = 16


@dataclass
class RunningGateway:
    """A gateway listening on `url`; `gateway` is its in-process service object (for white-box checks)."""

    url: str
    gateway: Gateway
    settings: GatewaySettings

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@contextlib.contextmanager
def serve_gateway(models_dir: Path, **overrides: Any) -> Iterator[RunningGateway]:
    """Run a gateway over `models_dir` (settings from `overrides`) until the block ends."""
    settings = GatewaySettings(models_dir=models_dir, **{"poll_seconds": 0, "threads": 1, **overrides})
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", app.state.gateway, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _make_checkpoint(tokenizer: Tokenizer, out: Path, seed: int, metrics: dict[str, Any] | None = None) -> Path:
    """A random `test-micro` checkpoint; different seeds give models that translate differently."""
    model = build_model("test-micro", tokenizer, seed=seed)
    manifest = Manifest(model_id=f"micro-seed{seed}", vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(model), preset="test-micro", metrics=metrics or {})
    return save_checkpoint(model, tokenizer, out, manifest)


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory, micro_checkpoint: Path, bible_dir: Path) -> dict[str, Path]:
    """Float32 and int8 exports of the shared micro checkpoint (the int8 one with a measured BLEU)."""
    root = tmp_path_factory.mktemp("exports")
    export_checkpoint(micro_checkpoint, root / "micro-f32", "float32")
    export_checkpoint(micro_checkpoint, root / "micro-int8", "int8",
                      eval_tsv=bible_dir / "test.tsv", eval_limit=3)
    return {"f32": root / "micro-f32", "int8": root / "micro-int8"}


@pytest.fixture
def models_dir(tmp_path: Path) -> Callable[..., Path]:
    """Make a fresh models folder holding copies of the given folders, named by the keyword."""

    def make(**folders: Path) -> Path:
        root = tmp_path / "models"
        root.mkdir(exist_ok=True)
        for name, src in folders.items():
            shutil.copytree(src, root / name)
        return root

    return make


@pytest.fixture
def f32_gateway(models_dir: Callable[..., Path], exports: dict[str, Path]) -> Iterator[RunningGateway]:
    """A gateway serving the float32 export (`micro`, the default) and the int8 one (`micro-int8`)."""
    with serve_gateway(models_dir(micro=exports["f32"], **{"micro-int8": exports["int8"]})) as gw:
        yield gw


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractContextManager[RunningGateway]]:
    """`serve(models_dir, **settings)`: a context manager running a gateway (see `serve_gateway`)."""
    return serve_gateway


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """Spanish test sentences."""
    return list(SENTENCES)


@pytest.fixture(scope="session")
def max_len() -> int:
    """Output tokens per test translation: random models never stop early, so keep this small."""
    return MAX_LEN


@pytest.fixture(scope="session")
def reference() -> Callable[..., list[str]]:
    """`reference(checkpoint, texts, max_len)`: the PyTorch model's greedy translations."""

    def run(checkpoint: Path, texts: list[str], max_len: int = MAX_LEN) -> list[str]:
        ckpt = load_checkpoint(checkpoint)
        return translate(ckpt.model, ckpt.tokenizer, texts, beam_size=1, max_len=max_len)

    return run


@pytest.fixture(scope="session")
def make_checkpoint(tokenizer: Tokenizer) -> Callable[..., Path]:
    """`make_checkpoint(out, seed, metrics=None)`: save a random `test-micro` checkpoint."""

    def make(out: Path, seed: int, metrics: dict[str, Any] | None = None) -> Path:
        return _make_checkpoint(tokenizer, out, seed, metrics)

    return make
