"""`kd teacher precompute`: a corpus's teacher answers written once into a teacher-output store.

The corpus is read and tokenised exactly as the trainer reads it (`student_trainer.stream`: the same row
parsing, `encode_source` / `encode_target` at `max_len`), so every training batch finds its sentences in the
store. Its usable rows are cut into shards of `shard_sentences` rows; shard c holds rows [c·S, (c+1)·S). Each
missing shard is computed and written as it finishes (atomically, with its sha256 in the manifest), so a
killed run keeps every finished shard and a re-run does only the rest (`s2s.teacher.store.writer`).

Two ways to compute: a teacher folder loaded in this process (`model`, one machine), or live teacher services
(`endpoints`): then shards run as Ray tasks, `parallel` at a time (default one per replica), each with its own
`TeacherClient` over every replica, which splits a shard into budget-sized requests and spreads them over
the replicas, so that N replicas make it about N times faster.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s2s.errors import KDError
from s2s.teacher.contract import TeacherInfo
from s2s.teacher.store.manifest import Identity, Signal, StoreManifest
from s2s.teacher.store.reader import sentence_key
from s2s.teacher.store.shards import file_sha256
from s2s.teacher.store.writer import StoreWriter
from s2s.tokenizer import Tokenizer
from student_trainer.recipe import StudentSpec
from student_trainer.stream import read_block_rows, read_layout

Pairs = tuple[list[list[int]], list[list[int]]]


@dataclass(frozen=True)
class PrecomputeSpec:
    """What to precompute: the corpus and how it is tokenised, the teacher, the signal, the shards."""

    data: str
    out: str
    endpoints: str | None = None
    model: str | None = None
    tokenizer: str | None = None  # default: `model`, else the trainer's default student tokenizer
    src_col: str = "es"
    tgt_col: str = "en"
    max_len: int = 128
    k: int = 8
    sample: int | None = None  # m: the sampled signal instead of top-k
    seed: int = 0
    shard_sentences: int = 4096
    parallel: int | None = None  # Ray tasks in flight (endpoints only); default: one per replica
    limit: int | None = None
    device: str = "auto"
    threads: int = 0  # torch CPU threads of an in-process teacher (0: torch's default, every core)
    timeout_s: float = 600.0

    @property
    def signal(self) -> Signal:
        return Signal("sampled", self.sample, self.seed) if self.sample else Signal("topk", self.k)

    def check(self) -> None:
        """Refuse impossible settings before any work."""
        if bool(self.endpoints) == bool(self.model):
            raise KDError("give the teacher as --endpoints host:port[,host:port] (live services) or as --model DIR "
                          "(loaded in this process), exactly one of the two")
        for name in ("max_len", "k", "shard_sentences"):
            if getattr(self, name) < 1:
                raise KDError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.sample is not None and not 1 <= self.sample <= 255:
            raise KDError(f"--sample must be between 1 and 255 draws per position, got {self.sample}")
        if self.parallel is not None and self.parallel < 1:
            raise KDError(f"--parallel must be >= 1, got {self.parallel}")


@dataclass(frozen=True)
class PrecomputeOutcome:
    """The store and how the run went."""

    manifest: StoreManifest
    shards: int
    shards_reused: int
    seconds: float


def read_pairs(spec: PrecomputeSpec, tokenizer: Tokenizer) -> Pairs:
    """The corpus's usable rows as ids, read and tokenised exactly as the trainer's stream does."""
    layout = read_layout(Path(spec.data), spec.src_col, spec.tgt_col)
    src: list[list[int]] = []
    tgt: list[list[int]] = []
    for row in read_block_rows(layout, layout.data_start, layout.size):
        if row is None:
            continue
        if spec.limit is not None and len(src) >= spec.limit:
            break
        src.append(tokenizer.encode_source(row[0], spec.max_len))
        tgt.append(tokenizer.encode_target(row[1], spec.max_len))
    if not src:
        raise KDError(f"{spec.data} has no usable rows in columns {spec.src_col!r} / {spec.tgt_col!r}")
    return src, tgt


def identity_for(spec: PrecomputeSpec, info: TeacherInfo, rows: int) -> Identity:
    """The store's identity: the teacher, its vocabulary, the signal and what the corpus was."""
    corpus = {"data_sha256": file_sha256(Path(spec.data)), "rows": rows, "src_col": spec.src_col,
              "tgt_col": spec.tgt_col, "max_len": spec.max_len, "shard_sentences": spec.shard_sentences}
    return Identity(info.teacher_id, info.model_id, info.vocab_fingerprint, info.vocab_size, spec.signal, corpus)


def compute(teacher: Any, signal: Signal, src: list[list[int]], tgt: list[list[int]]) -> list[Any]:
    """One shard's answers from a teacher (`TeacherClient` or `InProcessTeacher`)."""
    if signal.kind == "topk":
        return list(teacher.topk(src, tgt, signal.size))
    return list(teacher.sample(src, tgt, signal.size, signal.seed))


def _shard_task(spec_data: dict[str, Any], index: int, src: list[list[int]], tgt: list[list[int]]) -> list[Any]:
    """One Ray task: its own client over every replica (their order rotated by the shard's index, so that
    concurrent tasks start on different replicas), one shard."""
    from teacher_client import TeacherClient
    from teacher_client.endpoints import parse_endpoints

    spec = PrecomputeSpec(**spec_data)
    replicas = parse_endpoints(spec.endpoints or "")
    turn = index % len(replicas)
    with TeacherClient(replicas[turn:] + replicas[:turn], timeout_s=spec.timeout_s) as teacher:
        return compute(teacher, spec.signal, src, tgt)


class Progress:
    """One line per finished shard: done, rate and the time left (stderr, as `kd distill-data`)."""

    def __init__(self, total_sentences: int, todo: int) -> None:
        self.total, self.todo, self.done, self.start = total_sentences, todo, 0, time.monotonic()

    def shard(self, index: int, sentences: int, shards_left: int) -> None:
        self.done += sentences
        elapsed = time.monotonic() - self.start
        rate = self.done / max(elapsed, 1e-9)
        left = (self.todo - self.done) / rate if rate else 0.0
        print(f"[precompute] shard {index} done: {self.done}/{self.todo} sentences of this run "
              f"({self.total} in the corpus), {rate:.0f} sentences/s, {shards_left} shards and about "
              f"{_duration(left)} left", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def precompute(spec: PrecomputeSpec) -> PrecomputeOutcome:
    """Compute (or finish computing) the store; see the module docstring."""
    spec.check()
    start = time.monotonic()
    with _teacher(spec) as teacher:
        info = teacher.info()
        tokenizer = Tokenizer(Path(spec.tokenizer or spec.model or StudentSpec().tokenizer))
        if tokenizer.fingerprint != info.vocab_fingerprint:
            raise KDError(f"the tokenizer {tokenizer.folder} does not have the teacher's vocabulary "
                          f"({tokenizer.fingerprint[:16]}... vs {info.vocab_fingerprint[:16]}...); give the "
                          "student's tokenizer (the one training will use) with --tokenizer, of the teacher's "
                          "vocabulary")
        src, tgt = read_pairs(spec, tokenizer)
        writer = StoreWriter(spec.out, identity_for(spec, info, len(src)), asdict(info))
        size = spec.shard_sentences
        shards = [range(i, min(i + size, len(src))) for i in range(0, len(src), size)]
        todo = [c for c in range(len(shards)) if c not in writer.done()]
        reused = len(shards) - len(todo)
        progress = Progress(len(src), sum(len(shards[c]) for c in todo))

        def finished(c: int, results: list[Any]) -> None:
            rows = shards[c]
            writer.add(c, [sentence_key(src[i], tgt[i]) for i in rows], results, [len(tgt[i]) for i in rows])
            todo.remove(c)
            progress.shard(c, len(rows), len(todo))

        if spec.endpoints:
            _run_on_ray(spec, [(c, [src[i] for i in shards[c]], [tgt[i] for i in shards[c]]) for c in todo],
                        finished)
        else:
            for c in list(todo):
                finished(c, compute(teacher, spec.signal, [src[i] for i in shards[c]], [tgt[i] for i in shards[c]]))
    return PrecomputeOutcome(writer.manifest, len(shards), reused, time.monotonic() - start)


@contextmanager
def _teacher(spec: PrecomputeSpec) -> Iterator[Any]:
    """The teacher this process talks to: the services (for `Info`; the shards run in Ray tasks) or the model."""
    if spec.endpoints:
        from teacher_client import TeacherClient

        with TeacherClient(spec.endpoints, timeout_s=spec.timeout_s) as client:
            yield client
    else:
        import torch

        from s2s.local_teacher import InProcessTeacher

        if spec.threads:
            torch.set_num_threads(spec.threads)
        with InProcessTeacher(Path(spec.model or ""), device=spec.device) as local:
            yield local


def _run_on_ray(spec: PrecomputeSpec, work: list[tuple[int, list[list[int]], list[list[int]]]],
                finished: Callable[[int, list[Any]], None]) -> None:
    """Run the shards as Ray tasks, `parallel` at a time (default: one per replica), keeping each as it lands."""
    if not work:
        return
    import ray

    from student_trainer.local_ray import ensure_ray
    from teacher_client.endpoints import parse_endpoints

    ensure_ray(Path(spec.out))
    task = ray.remote(num_cpus=0.25, max_retries=2)(_shard_task)
    spec_data = asdict(spec)
    parallel = spec.parallel or len(parse_endpoints(spec.endpoints or ""))
    queue, running = list(work), dict[Any, int]()
    while queue or running:
        while queue and len(running) < parallel:
            c, src, tgt = queue.pop(0)
            running[task.remote(spec_data, c, src, tgt)] = c
        done, _ = ray.wait(list(running), num_returns=1)
        for ref in done:
            finished(running.pop(ref), ray.get(ref))
