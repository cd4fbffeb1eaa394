"""The typed, frozen schema of a training recipe and the defaults every recipe file starts from.

A recipe is data: a small YAML file names only what differs from these defaults. The defaults train a
`student-tiny` model with label-smoothed NLL on the bundled Bible corpus, with the reference teacher's
tokenizer, so that `python -m student_trainer --recipe nll` runs as is. The `loss` section is the settings
of one registered objective (`student_trainer.objectives`), whose class says which (`loss.kind`). Semantic
checks (ranges, combinations) live in `student_trainer.recipe_checks`; reading YAML and `--set` overrides
in `student_trainer.recipe_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from s2s.shared import BIBLE, REFERENCE_TEACHER, shared_path
from student_trainer.objectives.registry import default_settings, lookup
from student_trainer.objectives.settings import Arch, ObjectiveSettings

DIAGNOSTIC_K = 8  # the diagnostics' k and k' when neither they nor the objective set them
@dataclass(frozen=True)
class StudentSpec:
    """Which student to train: a fresh model of a preset size, or a checkpoint to continue from.

    `arch: cmlm` is a Mask-Predict (non-autoregressive) student, trained with `loss.kind: cmlm`; its
    `init_from` may be a CMLM checkpoint or an autoregressive one of the same shape (e.g. the teacher
    shrunk by `kd model shrink`), whose weights it starts from (the length predictor starts fresh)."""

    arch: Arch = "ar"
    preset: str = "student-tiny"
    init_from: str | None = None
    tokenizer: str = field(default_factory=lambda: shared_path(REFERENCE_TEACHER))
    seed: int = 1


@dataclass(frozen=True)
class TeacherSpec:
    """Where the teacher runs: gRPC endpoints (`host:port,host:port`) or a model folder loaded in-process,
    and/or `store`: a teacher-output store (`kd teacher precompute`) that answers TopK or the sampled signal
    with no teacher running; with endpoints or in_process also set, those answer what the store lacks.

    When every replica fails, the client keeps retrying (backing off, waiting for one to come back) for at
    least `retries` retries and `retry_budget_s` seconds, so that a teacher restart does not fail the run."""

    endpoints: str | None = None
    in_process: str | None = None
    store: str | None = None
    timeout_s: float = 60.0
    retries: int = 3
    retry_budget_s: float = 120.0
    prefetch: int = 1


@dataclass(frozen=True)
class DiagnosticsSpec:
    """The KA paper's diagnostics at every validation: the student's top-k' against the teacher's top-k.

    `diagnostics: true` is short for `diagnostics: {enabled: true}`. The sizes default to the objective's
    own `k` and `k_prime` when it has them, else 8 each; a recipe may also write them as `loss.k` and
    `loss.k_prime` for an objective without those settings (e.g. NLL, the control of a comparison)."""

    SHORTHAND: ClassVar[str] = "enabled"

    enabled: bool = False
    k: int | None = None
    k_prime: int | None = None


@dataclass(frozen=True)
class OptimSpec:
    """Adam with a linear warm-up followed by inverse-square-root decay.

    A fine-tune can continue the schedule of the run it starts from instead of restarting it:
    `schedule_offset` is the optimiser steps that run had taken (the schedule starts there), and
    `rewarmup_steps` ramps this run's first steps linearly up to that point of the schedule, because
    Adam's moment estimates start afresh."""

    lr: float = 7e-4
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    weight_decay: float = 0.0
    warmup_steps: int = 1000
    clip_norm: float = 1.0
    schedule_offset: int = 0
    rewarmup_steps: int = 0


@dataclass(frozen=True)
class DataSpec:
    """Training and validation text and how it is cut into token-budget batches.

    The training file is read lazily in blocks of `block_bytes`; `pool_blocks` random blocks are
    tokenised, length-sorted and cut into batches of at most `max_tokens` padded tokens per worker.
    """

    train: str = field(default_factory=lambda: shared_path(BIBLE / "train.tsv"))
    valid: str = field(default_factory=lambda: shared_path(BIBLE / "valid.tsv"))
    src_col: str = "es"
    tgt_col: str = "en"
    max_tokens: int = 4096
    max_sentences: int = 256
    max_len: int = 128
    block_bytes: int = 65536
    pool_blocks: int = 8
    shuffle: bool = True
    valid_sentences: int = 400


@dataclass(frozen=True)
class RaySpec:
    """Ray Train resources: data-parallel workers, GPU use (`null` = when the cluster has one), restarts."""

    num_workers: int = 1
    use_gpu: bool | None = None
    cpus_per_worker: float = 1.0
    torch_threads: int = 0
    max_failures: int = 2


@dataclass(frozen=True)
class Recipe:
    """A complete training run. `max_steps`, when set, overrides `epochs`; `eval_every` 0 = only at the end.

    `patience` > 0 stops training after that many validations in a row without a better valid BLEU
    (training "until validation BLEU stops improving"); `keep_best` makes the final student the validated
    checkpoint with the best valid BLEU (kept in `output_dir/best`) instead of the last step's. `loss` is
    the objective's own settings (`NLLSettings`, `KASettings`, ...; `loss.kind` names the objective).
    """

    name: str = "run"
    output_dir: str = "runs/{name}"
    epochs: int = 10
    max_steps: int | None = None
    log_every: int = 50
    eval_every: int = 1000
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    patience: int = 0
    keep_best: bool = False
    diagnostics: DiagnosticsSpec = field(default_factory=DiagnosticsSpec)
    student: StudentSpec = field(default_factory=StudentSpec)
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    loss: ObjectiveSettings = field(default_factory=default_settings)
    optim: OptimSpec = field(default_factory=OptimSpec)
    data: DataSpec = field(default_factory=DataSpec)
    ray: RaySpec = field(default_factory=RaySpec)

    @property
    def output_path(self) -> Path:
        """`output_dir` with `{name}` filled in."""
        return Path(self.output_dir.replace("{name}", self.name))

    @property
    def uses_teacher(self) -> bool:
        """Whether the objective asks the teacher anything (not NLL, nor CMLM, whose teacher shows only in
        its sequence-level training data)."""
        return lookup(self.loss.kind).uses_teacher

    @property
    def connects_teacher(self) -> bool:
        """Whether the run talks to a teacher at all (the objective, or validation diagnostics)."""
        return self.uses_teacher or self.diagnostics.enabled

    @property
    def diagnostic_sizes(self) -> tuple[int, int]:
        """(k, k') of the diagnostics: their own, else the objective's `k` and `k_prime`, else 8 each."""
        d = self.diagnostics
        k = d.k if d.k is not None else getattr(self.loss, "k", DIAGNOSTIC_K)
        k_prime = d.k_prime if d.k_prime is not None else getattr(self.loss, "k_prime", DIAGNOSTIC_K)
        return int(k), int(k_prime)
