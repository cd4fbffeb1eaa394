"""Semantic checks of a recipe (ranges and combinations), each problem naming its dotted key.

Types are already enforced while reading (`student_trainer.recipe_io`); here we refuse values that are
well-typed but meaningless (a negative learning rate, `alpha` outside [0, 1], KA without a teacher, the
exact KA over gRPC, ...). The objective's checks come from its declaration in the registry: its settings'
declared ranges, its supports, the students it trains and what it needs from the teacher. All problems
are collected so that one run of the CLI reports all of them.
"""

from __future__ import annotations

from student_trainer.objectives.registry import lookup, objectives
from student_trainer.objectives.settings import DistillSettings
from student_trainer.recipe import Recipe

Problem = tuple[str, str]


def recipe_problems(recipe: Recipe) -> list[Problem]:
    """Every semantic problem of `recipe` as (dotted key, what is wrong and what to do)."""
    return [*_top_problems(recipe), *_loss_problems(recipe), *_diagnostics_problems(recipe),
            *_teacher_problems(recipe), *_optim_problems(recipe), *_data_problems(recipe), *_ray_problems(recipe)]


def _positive(key: str, value: float | None, allow_zero: bool = False) -> list[Problem]:
    if value is None or value > 0 or (allow_zero and value == 0):
        return []
    bound = ">= 0" if allow_zero else "> 0"
    return [(key, f"must be {bound}, got {value}")]


def _top_problems(r: Recipe) -> list[Problem]:
    out = [*_positive("epochs", r.epochs), *_positive("max_steps", r.max_steps),
           *_positive("log_every", r.log_every), *_positive("eval_every", r.eval_every, allow_zero=True),
           *_positive("checkpoint_every", r.checkpoint_every), *_positive("keep_checkpoints", r.keep_checkpoints),
           *_positive("patience", r.patience, allow_zero=True)]
    if (r.patience or r.keep_best) and not r.eval_every:
        out.append(("eval_every", "patience and keep_best compare validations: set eval_every > 0"))
    if not r.name.strip() or "/" in r.name:
        out.append(("name", f"must be a non-empty name without '/', got {r.name!r}"))
    if not r.output_dir.strip():
        out.append(("output_dir", "must not be empty"))
    return out


def _loss_problems(r: Recipe) -> list[Problem]:
    """The objective's own ranges, then what its declaration says it supports and needs."""
    loss, info = r.loss, lookup(r.loss.kind)
    out = [(f"loss.{key}", message) for key, message in loss.problems()]
    if isinstance(loss, DistillSettings) and loss.support not in ("auto", *info.supports):
        out.append(("loss.support", f"{loss.support!r} is not available for loss.kind={loss.kind!r}; "
                                    f"choose one of {', '.join(('auto', *info.supports))}"))
    if r.student.arch not in info.students:
        fits = [o.name for o in objectives() if r.student.arch in o.students]
        out.append(("loss.kind", f"{loss.kind} trains {'/'.join(info.students)} students, not student.arch: "
                                 f"{r.student.arch}; objectives for it: {', '.join(fits)}"))
    if "full_logits" in info.needs(loss) and not r.teacher.in_process:
        out.append(("loss.support", f"{info.resolved_support(loss)!r} needs the teacher's full logits (exact, over "
                                    "the whole vocabulary): set teacher.in_process to a teacher folder"))
    return out


def _diagnostics_problems(r: Recipe) -> list[Problem]:
    d = r.diagnostics
    return [*_positive("diagnostics.k", d.k), *_positive("diagnostics.k_prime", d.k_prime)]


def _teacher_problems(r: Recipe) -> list[Problem]:
    t = r.teacher
    out = [*_positive("teacher.timeout_s", t.timeout_s), *_positive("teacher.retries", t.retries, True),
           *_positive("teacher.retry_budget_s", t.retry_budget_s, allow_zero=True),
           *_positive("teacher.prefetch", t.prefetch, allow_zero=True)]
    if t.endpoints and t.in_process:
        out.append(("teacher.endpoints", "set either teacher.endpoints or teacher.in_process, not both"))
    if r.diagnostics.enabled and not (t.endpoints or t.in_process) and t.store:
        out.append(("teacher.store", "diagnostics ask the teacher about the validation set, which a store of the "
                                     "training corpus does not hold: set teacher.endpoints (or teacher.in_process) "
                                     "too, or diagnostics: false"))
    elif r.diagnostics.enabled and not r.uses_teacher and not (t.endpoints or t.in_process):
        out.append(("teacher.endpoints", "diagnostics compare the student with the teacher: set teacher.endpoints "
                                         "(host:port[,host:port]) or teacher.in_process (a model folder)"))
    if r.uses_teacher and not (t.endpoints or t.in_process or t.store):
        out.append(("teacher.endpoints", f"loss.kind={r.loss.kind!r} needs a teacher: set teacher.endpoints "
                                         "(host:port[,host:port]), teacher.in_process (a model folder) or "
                                         "teacher.store (answers precomputed by `kd teacher precompute`)"))
    elif r.uses_teacher and t.store and not (t.endpoints or t.in_process):
        out.extend(_store_only_problems(r))
    return out


def _store_only_problems(r: Recipe) -> list[Problem]:
    """A store alone holds TopK or sampled answers on the references: refuse objectives that need more."""
    info = lookup(r.loss.kind)
    extra = sorted(set(info.needs(r.loss)) - {"topk", "sampled"})
    on_policy = isinstance(r.loss, DistillSettings) and r.loss.rollout != "reference"
    if not extra and not on_policy:
        return []
    why = (f"asks the teacher for {', '.join(extra)}" if extra
           else "asks the teacher about the student's own translations (on_policy)")
    return [("teacher.store", f"loss.kind={r.loss.kind!r} {why}, which a store of precomputed answers cannot hold: "
                              "set teacher.endpoints (or teacher.in_process) too")]


def _optim_problems(r: Recipe) -> list[Problem]:
    o = r.optim
    out = [*_positive("optim.lr", o.lr), *_positive("optim.eps", o.eps),
           *_positive("optim.weight_decay", o.weight_decay, allow_zero=True),
           *_positive("optim.warmup_steps", o.warmup_steps, allow_zero=True),
           *_positive("optim.clip_norm", o.clip_norm, allow_zero=True),
           *_positive("optim.schedule_offset", o.schedule_offset, allow_zero=True),
           *_positive("optim.rewarmup_steps", o.rewarmup_steps, allow_zero=True)]
    if not all(0.0 <= b < 1.0 for b in o.betas):
        out.append(("optim.betas", f"both must be in [0, 1), got {list(o.betas)}"))
    return out


def _data_problems(r: Recipe) -> list[Problem]:
    d = r.data
    out = [*_positive("data.max_tokens", d.max_tokens), *_positive("data.max_sentences", d.max_sentences),
           *_positive("data.block_bytes", d.block_bytes), *_positive("data.pool_blocks", d.pool_blocks),
           *_positive("data.valid_sentences", d.valid_sentences, allow_zero=True)]
    if d.max_len < 2:
        out.append(("data.max_len", f"must be >= 2 (a token and </s>), got {d.max_len}"))
    elif d.max_tokens < d.max_len:
        out.append(("data.max_tokens", f"must be >= data.max_len ({d.max_len}) so that a longest sentence "
                                       f"fits a batch, got {d.max_tokens}"))
    if d.src_col == d.tgt_col:
        out.append(("data.tgt_col", f"must differ from data.src_col ({d.src_col!r})"))
    return out


def _ray_problems(r: Recipe) -> list[Problem]:
    y = r.ray
    return [*_positive("ray.num_workers", y.num_workers), *_positive("ray.cpus_per_worker", y.cpus_per_worker),
            *_positive("ray.torch_threads", y.torch_threads, allow_zero=True),
            *_positive("ray.max_failures", y.max_failures, allow_zero=True)]
