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
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sacrebleu
from tqdm import tqdm

from s2s.atomic import write_text_atomic as write_atomic
from s2s.corpus import Pair, iter_tsv, tsv_header
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
    """Generate (or finish generating) the corpora; see the module docstring. The input is streamed three
    times (count, generate, assemble) and never held whole: memory stays at `parallel` chunks."""
    from teacher_client import TeacherClient

    spec.check()
    with TeacherClient(spec.teacher, timeout_s=spec.timeout_s) as teacher:
        info = teacher.info()
    path, out = Path(spec.data), Path(spec.out_dir)
    rows, problems = _count_rows(path, spec.src_col, spec.tgt_col)
    chunk_dir = out / "chunks"
    _claim_output(out, spec, info.model_id, rows)
    n_chunks = -(-rows // spec.chunk_size)
    todo = [c for c in range(n_chunks) if not all(_chunk_path(chunk_dir, c, n).is_file() for n in OUTPUTS)]
    _run_chunks(spec, _chunks(path, spec), todo, chunk_dir)
    paths = _assemble(path, spec, out, chunk_dir, n_chunks, rows)
    return DistillOutcome(paths, rows, problems, n_chunks, n_chunks - len(todo), info.model_id)


def _count_rows(path: Path, src_col: str, tgt_col: str) -> tuple[int, int]:
    """(usable rows, rejected rows) of the input TSV; none usable is an error naming the first problems."""
    rows, problems, first = 0, 0, list[str]()
    for item in iter_tsv(path, src_col, tgt_col):
        if isinstance(item, Pair):
            rows += 1
            continue
        problems += 1
        if len(first) < 3:
            first.append(str(item))
    if not rows:
        raise DataError(f"{path} has no usable rows (all {problems} rows are malformed or empty): " + "; ".join(first))
    return rows, problems


def _chunks(path: Path, spec: DistillSpec) -> Iterator[list[Pair]]:
    """The usable rows in chunks of `chunk_size`, read as they are needed."""
    chunk: list[Pair] = []
    for item in iter_tsv(path, spec.src_col, spec.tgt_col):
        if isinstance(item, Pair):
            chunk.append(item)
            if len(chunk) == spec.chunk_size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _claim_output(out: Path, spec: DistillSpec, teacher_id: str, rows: int) -> None:
    """Record the settings in `out/params.json`; refuse a folder made with other settings."""
    params = {**asdict(spec), "teacher_id": teacher_id, "data_rows": rows, "data": str(Path(spec.data).resolve())}
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


def _run_chunks(spec: DistillSpec, chunks: Iterator[list[Pair]], todo: list[int], chunk_dir: Path) -> None:
    """Run the missing chunks as Ray tasks, at most `spec.parallel` at a time (reading the next chunk only
    when a slot is free), keeping each as it lands."""
    if not todo:
        return
    import ray

    from student_trainer.local_ray import ensure_ray

    ensure_ray(chunk_dir.parent)
    task = ray.remote(num_cpus=0.5, max_retries=2)(_chunk_task)
    spec_data = asdict(spec)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    wanted, running, finished = set(todo), dict[Any, int](), 0
    pending = ((c, rows) for c, rows in enumerate(chunks) if c in wanted)
    with tqdm(total=len(todo), desc="distil chunks", unit="chunk", disable=not os.isatty(2)) as bar:
        for c, rows in pending:
            while len(running) >= spec.parallel:
                finished += _land_one(running, chunk_dir, bar, finished, len(todo))
            running[task.remote(spec_data, [r.src for r in rows], [r.tgt for r in rows])] = c
        while running:
            finished += _land_one(running, chunk_dir, bar, finished, len(todo))


def _land_one(running: dict[Any, int], chunk_dir: Path, bar: Any, finished: int, total: int) -> int:
    """Wait for one running chunk and keep its outputs; returns 1."""
    import ray

    done, _ = ray.wait(list(running), num_returns=1)
    c = running.pop(done[0])
    result = ray.get(done[0])
    for name in OUTPUTS:
        write_atomic(_chunk_path(chunk_dir, c, name), "\n".join(result[name]) + "\n")
    bar.update(1)
    if bar.disable:  # no terminal (a log file, a Ray job): one line per chunk instead of a bar
        print(f"[distill-data] chunk {c + 1} done ({finished + 1}/{total})", file=sys.stderr, flush=True)
    return 1


def _assemble(path: Path, spec: DistillSpec, out: Path, chunk_dir: Path, n_chunks: int,
              rows: int) -> dict[str, Path]:
    """Write the input's rows with the target column replaced by each output's chunks, streaming both and
    renaming each finished file into place."""
    header = tsv_header(path)
    tgt_index = header.index(spec.tgt_col)
    targets = {name: _chunk_lines(chunk_dir, n_chunks, name) for name in OUTPUTS}
    paths = {name: out / f"{name}.tsv" for name in OUTPUTS}
    tmp = {name: p.with_name(f".{p.name}.tmp") for name, p in paths.items()}
    mismatch = DataError(f"{chunk_dir}: the chunks do not match the {rows} input rows (the input changed?); "
                         "delete the folder and run again")
    files = {name: tmp[name].open("w", encoding="utf-8") for name in OUTPUTS}
    try:
        written = 0
        for f in files.values():
            f.write("\t".join(header) + "\n")
        for item in iter_tsv(path, spec.src_col, spec.tgt_col):
            if not isinstance(item, Pair):
                continue
            written += 1
            for name, f in files.items():
                cells = list(item.cells)
                target = next(targets[name], None)
                if target is None:
                    raise mismatch
                cells[tgt_index] = target
                f.write("\t".join(cells) + "\n")
        if written != rows or any(next(lines, None) is not None for lines in targets.values()):
            raise mismatch
    except BaseException:
        for name, f in files.items():
            f.close()
            tmp[name].unlink(missing_ok=True)
        raise
    for name, f in files.items():
        f.close()
        os.replace(tmp[name], paths[name])
    return paths


def _chunk_lines(chunk_dir: Path, n_chunks: int, name: str) -> Iterator[str]:
    for c in range(n_chunks):
        with _chunk_path(chunk_dir, c, name).open(encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")
