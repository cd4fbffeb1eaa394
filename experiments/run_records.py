"""What a finished experiment run leaves, kept in the repository so that its tables outlive the machine.

A run folder (under runs/, which is not committed and goes with the machine) holds `metrics.jsonl`,
`eval/results.json` and the test outputs `eval/hyp.<decoding>.txt`. `archive` copies those three kinds of file
into a folder under docs/results/logs, the outputs gzip-compressed (about 80 kB per decoding of the test
set), and `load_run` reads a run from its folder when it is there, else from its archive. A table built
from `RunRecord`s therefore comes out the same on a new machine, paired bootstrap tests included.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    """One run's metrics events, its test results by decoding, and the folder its test outputs are in."""

    name: str
    metrics: list[dict[str, Any]]
    results: dict[str, Any]
    outputs: Path | None

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.metrics if r.get("event") == name]

    def bleu(self, decoding: str) -> float | None:
        return self.results[decoding]["scores"]["bleu"] if decoding in self.results else None

    def score(self, decoding: str, metric: str) -> float | None:
        return self.results[decoding]["scores"].get(metric) if decoding in self.results else None

    def train_minutes(self) -> float:
        times = [r["time"] for r in self.events("train")]
        return (max(times) - min(times)) / 60 if len(times) > 1 else 0.0

    def hypotheses(self, decoding: str) -> list[str] | None:
        """The test outputs of `decoding`, one per test sentence, or None where they were not kept."""
        if self.outputs is None:
            return None
        plain, packed = self.outputs / f"hyp.{decoding}.txt", self.outputs / f"hyp.{decoding}.txt.gz"
        if plain.is_file():
            return plain.read_text(encoding="utf-8").splitlines()
        if packed.is_file():
            return gzip.decompress(packed.read_bytes()).decode("utf-8").splitlines()
        return None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _results(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return {r["decoding"]: r for r in json.loads(path.read_text(encoding="utf-8"))["results"]}


def load_run(run: Path, archived: Path | None = None) -> RunRecord | None:
    """The run in folder `run` if it has metrics there, else its archive `archived`, else None."""
    if (run / "metrics.jsonl").is_file():
        return RunRecord(run.name, _jsonl(run / "metrics.jsonl"), _results(run / "eval" / "results.json"),
                         run / "eval")
    if archived is None or not (archived / "metrics.jsonl").is_file():
        return None
    return RunRecord(run.name, _jsonl(archived / "metrics.jsonl"), _results(archived / "results.json"), archived)


def archive(run: Path, dest: Path) -> None:
    """Copy the run's metrics, test results and (compressed) test outputs into `dest`, replacing its files."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "metrics.jsonl", dest / "metrics.jsonl")
    if (run / "eval" / "results.json").is_file():
        shutil.copyfile(run / "eval" / "results.json", dest / "results.json")
    for hyp in sorted((run / "eval").glob("hyp.*.txt")):
        (dest / f"{hyp.name}.gz").write_bytes(gzip.compress(hyp.read_bytes(), mtime=0))


def main() -> int:
    """`python -m experiments.run_records RUN DEST`: archive one run (what the experiment scripts call)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("run", type=Path, help="a finished run folder (with metrics.jsonl and eval/)")
    parser.add_argument("dest", type=Path, help="its archive folder under docs/results/logs")
    args = parser.parse_args()
    if not (args.run / "metrics.jsonl").is_file():
        parser.error(f"{args.run} has no metrics.jsonl: is it a finished run folder?")
    archive(args.run, args.dest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
