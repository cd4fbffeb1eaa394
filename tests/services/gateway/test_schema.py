"""Property-based run of schemathesis against the published OpenAPI schema: no 5xx, no schema violations."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
        serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path], tmp_path: Path) -> None:
    limits = {"max_texts": 4, "max_chars": 80, "max_length": 24, "max_beam": 3, "admin_key": "adm"}
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with serve(models_dir(micro=exports["f32"], **{"micro-int8": exports["int8"]}), **limits) as gw:
        run = subprocess.run(
            [str(schemathesis), "run", f"{gw.url}/openapi.json", "--checks", "all", "--max-examples", "100",
             "--seed", "20261122", "--generation-database", "none", "--no-color", "--request-timeout", "20",
             "--header", "X-API-Key: adm", "--report", "junit", "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
        with gw.client() as client:
            still_ready = client.get("/readyz").status_code
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "No issues found" in output, output[-4000:]
    assert "6 selected" in output  # every operation was exercised
    assert still_ready == 200
