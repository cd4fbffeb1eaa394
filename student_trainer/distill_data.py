"""Sequence-level distillation data: the Seq-KD and Seq-Inter corpora made through the teacher's Generate.

For every row of a TSV the teacher's beam search gives an n-best list. Seq-KD keeps the best beam
output; Seq-Inter keeps the n-best candidate with the highest sentence BLEU (sacrebleu) against the
reference, and its variant `seq_inter_chrf` the one with the highest sentence chrF (Bergamot's
choice, smoother than sentence BLEU on short verses). All are written as TSVs with the input's
columns, the target column replaced. The rows are cut into chunks that run as Ray tasks; each finished
chunk is kept under `out/chunks/`, so an interrupted run resumes where it stopped, and the teacher
service's Redis cache answers repeated Generate requests.

Only text crosses: sources go to the teacher's Generate as text and come back as text, tokenised and
detokenised by the teacher itself. So the teacher may be of any family and the student may have any
vocabulary (its own tokenizer, trained afterwards on these corpora): this is the route across vocabularies.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sacrebleu
from tqdm import tqdm

from s2s.atomic import write_text_atomic as write_atomic
from s2s.corpus import Corpus, read_tsv
from s2s.errors import DataError, KDError

log = logging.getLogger(__name__)
OUTPUTS = ("seq_kd", "seq_inter", "seq_inter_chrf")


@dataclass(frozen=True)
class DistillSpec:
    """What to distil: teacher endpoints, input TSV, output folder, beam settings and chunking."""

    teacher: str
    data: str
    out_dir: str
    beam: int = 5
    nbest: int = 5
    max_len: int = 128
    chunk_size: int = 256
    parallel: int = 2
    src_col: str = "es"
    tgt_col: str = "en"
    timeout_s: float = 600.0

    def check(self) -> None:
        """Refuse impossible settings before any work."""
        if self.beam < 1 or not 1 <= self.nbest <= self.beam:
            raise KDError(f"--nbest must be between 1 and --beam ({self.beam}), got {self.nbest}")
        for name in ("max_len", "chunk_size", "parallel"):
            if getattr(self, name) < 1:
                raise KDError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class DistillOutcome:
    """The written corpora and how the run went."""

    paths: dict[str, Path]
    rows: int
    skipped_rows: int
    chunks: int
    chunks_reused: int
    teacher_id: str


def best_by_bleu(candidates: Sequence[str], reference: str) -> int:
    """Index of the candidate with the highest sentence BLEU against `reference` (first one on ties)."""
    scores = [sacrebleu.sentence_bleu(c, [reference]).score for c in candidates]
    return max(range(len(candidates)), key=lambda i: (scores[i], -i))


def best_by_chrf(candidates: Sequence[str], reference: str) -> int:
    """Index of the candidate with the highest sentence chrF against `reference` (first one on ties)."""
    scores = [sacrebleu.sentence_chrf(c, [reference]).score for c in candidates]
    return max(range(len(candidates)), key=lambda i: (scores[i], -i))


def distil_rows(teacher: Any, sources: Sequence[str], references: Sequence[str], beam: int, nbest: int,
                max_len: int) -> dict[str, list[str]]:
    """Seq-KD and both Seq-Inter targets of some sentences (one Generate call by text, split by the client)."""
    nbests = teacher.generate_text(list(sources), beam, nbest, max_len)
    out: dict[str, list[str]] = {name: [] for name in OUTPUTS}
    for hyps, ref in zip(nbests, references, strict=True):
        texts = [_clean(h.text) for h in hyps]
        out["seq_kd"].append(texts[0])
        out["seq_inter"].append(texts[best_by_bleu(texts, ref)])
        out["seq_inter_chrf"].append(texts[best_by_chrf(texts, ref)])
    return out


def _clean(text: str) -> str:
    return " ".join(text.split())


def _chunk_task(spec_data: dict[str, Any], sources: list[str], references: list[str]) -> dict[str, list[str]]:
    """One Ray task: its own teacher client, one chunk of rows."""
    from teacher_client import TeacherClient

    spec = DistillSpec(**spec_data)
    with TeacherClient(spec.teacher, timeout_s=spec.timeout_s) as teacher:
        info = teacher.info()
        return distil_rows(teacher, sources, references, spec.beam, spec.nbest, min(spec.max_len, info.max_target_len))


def distill_data(spec: DistillSpec) -> DistillOutcome:
    """Generate (or finish generating) both corpora; see the module docstring."""
    from teacher_client import TeacherClient

    spec.check()
    with TeacherClient(spec.teacher, timeout_s=spec.timeout_s) as teacher:
        info = teacher.info()
    table = _read_rows(Path(spec.data), spec.src_col, spec.tgt_col)
    out = Path(spec.out_dir)
    chunk_dir = out / "chunks"
    _claim_output(out, spec, info.model_id, table)
    chunks = [range(i, min(i + spec.chunk_size, len(table.pairs))) for i in range(0, len(table.pairs), spec.chunk_size)]
    todo = [c for c, _ in enumerate(chunks) if not all(_chunk_path(chunk_dir, c, n).is_file() for n in OUTPUTS)]
    _run_chunks(spec, table, chunks, todo, chunk_dir)
    paths = {name: _assemble(out / f"{name}.tsv", table, spec.tgt_col, chunk_dir, len(chunks), name)
             for name in OUTPUTS}
    return DistillOutcome(paths, len(table.pairs), len(table.problems), len(chunks), len(chunks) - len(todo),
                          info.model_id)


def _read_rows(path: Path, src_col: str, tgt_col: str) -> Corpus:
    """The usable rows of the input TSV with all their cells (malformed or empty rows are skipped)."""
    table = read_tsv(path, src_col, tgt_col)
    if not table.pairs:
        raise DataError(f"{path} has no usable rows (all {len(table.problems)} rows are malformed or empty): "
                        + "; ".join(str(p) for p in table.problems[:3]))
    return table


def _claim_output(out: Path, spec: DistillSpec, teacher_id: str, table: Corpus) -> None:
    """Record the settings in `out/params.json`; refuse a folder made with other settings."""
    params = {**asdict(spec), "teacher_id": teacher_id, "data_rows": len(table.pairs),
              "data": str(Path(spec.data).resolve())}
    for key in ("out_dir", "parallel", "timeout_s", "teacher"):
        params.pop(key)
    path = out / "params.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        diff = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
        if diff:
            raise DataError(f"{out} holds chunks made with other settings ({', '.join(diff)} differ); "
                            "use another --out folder or delete this one")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(params, indent=2) + "\n")


def _chunk_path(chunk_dir: Path, index: int, name: str) -> Path:
    return chunk_dir / f"{index:06d}.{name}.txt"


def _run_chunks(spec: DistillSpec, table: Corpus, chunks: list[range], todo: list[int], chunk_dir: Path) -> None:
    """Run the missing chunks as Ray tasks, at most `spec.parallel` at a time, keeping each as it lands."""
    if not todo:
        return
    import ray

    from student_trainer.local_ray import ensure_ray

    ensure_ray(chunk_dir.parent)
    task = ray.remote(num_cpus=0.5, max_retries=2)(_chunk_task)
    spec_data = asdict(spec)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    queue, running, finished = list(todo), dict[Any, int](), 0
    with tqdm(total=len(todo), desc="distil chunks", unit="chunk", disable=not os.isatty(2)) as bar:
        while queue or running:
            while queue and len(running) < spec.parallel:
                c = queue.pop(0)
                rows = [table.pairs[i] for i in chunks[c]]
                ref = task.remote(spec_data, [r.src for r in rows], [r.tgt for r in rows])
                running[ref] = c
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                c = running.pop(ref)
                result = ray.get(ref)
                for name in OUTPUTS:
                    write_atomic(_chunk_path(chunk_dir, c, name), "\n".join(result[name]) + "\n")
                bar.update(1)
                finished += 1
                if bar.disable:  # no terminal (a log file, a Ray job): one line per chunk instead of a bar
                    print(f"[distill-data] chunk {c + 1} done ({finished}/{len(todo)})", file=sys.stderr, flush=True)


def _assemble(path: Path, table: Corpus, tgt_col: str, chunk_dir: Path, n_chunks: int, name: str) -> Path:
    """Write the input's rows with the target column replaced by the chunks' outputs."""
    targets: list[str] = []
    for c in range(n_chunks):
        targets += _chunk_path(chunk_dir, c, name).read_text(encoding="utf-8").split("\n")[:-1]
    if len(targets) != len(table.pairs):
        raise DataError(f"{chunk_dir}: chunks hold {len(targets)} {name} lines for {len(table.pairs)} rows; "
                        "delete the folder and run again")
    tgt_index = table.header.index(tgt_col)
    lines = ["\t".join(table.header)]
    for row, target in zip(table.pairs, targets, strict=True):
        cells = list(row.cells)
        cells[tgt_index] = target
        lines.append("\t".join(cells))
    write_atomic(path, "\n".join(lines) + "\n")
    return path
