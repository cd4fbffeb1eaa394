"""The real commands: `python -m services.gateway` as a process configured by environment, and `kd gateway`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kd.cli import main

REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_command_serves_with_environment_settings(models_dir: Callable[..., Path],
                                                          exports: dict[str, Path]) -> None:
    port = _free_port()
    env = {**os.environ, "KD_GATEWAY_API_KEYS": "secret", "KD_GATEWAY_MAX_TEXTS": "2",
           "KD_GATEWAY_POLL_SECONDS": "0", "KD_GATEWAY_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.gateway", "--models", str(models_dir(micro=exports["int8"])),
         "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "gateway exited"
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gateway did not become ready"
            time.sleep(0.2)
        headers = {"X-API-Key": "secret"}
        ok = httpx.post(url + "/v1/translate", json={"texts": ["Hola", "Adiós"], "max_length": 6}, headers=headers)
        too_many = httpx.post(url + "/v1/translate", json={"texts": ["a", "b", "c"]}, headers=headers)
        no_key = httpx.post(url + "/v1/translate", json={"text": "Hola"})
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log = proc.stdout.read() if proc.stdout else ""
    assert ok.status_code == 200 and len(ok.json()["translations"]) == 2
    assert too_many.status_code == 422 and "at most 2 items" in too_many.json()["error"]["message"]
    assert no_key.status_code == 401
    # uvicorn finishes in-flight work, runs the shutdown, then re-raises the signal (exit status -15)
    assert code in (0, -signal.SIGTERM) and "Application shutdown complete" in log, log


def test_kd_gateway_refuses_a_missing_models_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--models", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err


def test_the_process_refuses_a_public_address_without_api_keys(models_dir: Callable[..., Path],
                                                               exports: dict[str, Path]) -> None:
    """As compose runs it with KD_BIND_ADDRESS=0.0.0.0 and no keys: it stops at once and says why."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KD_GATEWAY_")}
    env.update(KD_GATEWAY_HOST="0.0.0.0", KD_GATEWAY_PUBLIC_ADDRESS="0.0.0.0")
    proc = subprocess.run([sys.executable, "-m", "services.gateway", "--models", str(models_dir(micro=exports["int8"])),
                           "--port", str(_free_port())], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "would serve 0.0.0.0 without API keys" in proc.stderr and "--allow-anonymous" in proc.stderr
    assert "Traceback" not in proc.stderr
