"""`kd data-stats` on small TSVs: the numbers, the JSON, and a reference with other sources refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _tsv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("ref\tes\ten\n" + "".join(f"v{i}\t{s}\t{t}\n" for i, (s, t) in enumerate(rows)))
    return path


def _kd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kd", "data-stats", *args], capture_output=True, text=True,
                          timeout=120)


def test_data_stats_reports_complexity_and_faithfulness(tmp_path: Path) -> None:
    real = _tsv(tmp_path / "real.tsv", [("el gato", "the cat"), ("un gato", "a cat"), ("el gato", "this cat")] * 4)
    distilled = _tsv(tmp_path / "kd.tsv", [("el gato", "the cat"), ("un gato", "a cat"), ("el gato", "the cat")] * 4)
    out = tmp_path / "stats.json"
    run = _kd("--data", str(distilled), "--reference", str(real), "--min-count", "1", "--json", str(out))
    assert run.returncode == 0, run.stderr
    stats = json.loads(out.read_text())
    assert stats["sentences"] == 12 and stats["complexity"] >= 0 and stats["faithfulness"] > 0
    assert "complexity C(d):" in run.stdout and "nats" in run.stdout
    own = _kd("--data", str(real), "--min-count", "1", "--json", str(out))
    assert own.returncode == 0 and json.loads(out.read_text())["complexity"] > stats["complexity"]
    other = _tsv(tmp_path / "other.tsv", [("otro", "other")] * 12)
    refused = _kd("--data", str(distilled), "--reference", str(other))
    assert refused.returncode == 2 and "must have the same sources" in refused.stderr
