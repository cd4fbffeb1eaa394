"""The driver side of a training run: checks before any work, Ray startup, the Ray Train run, its outcome.

Everything that can be refused cheaply is refused here, before Ray starts: missing files (named by
their recipe key), an output folder that already holds a run (unless resuming), a teacher that is
unreachable or does not share the student's vocabulary, a teacher-output store that is damaged or holds
another teacher's, vocabulary's, signal's or corpus's answers. Then `TorchTrainer` runs `train_worker` on
`ray.num_workers` workers with restarts from the newest checkpoint (`FailureConfig`), and the final
student's manifest is read back from `output_dir/final`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from s2s.checkpoint import Manifest, check_fingerprint, read_manifest
from s2s.errors import KDError
from s2s.teacher.identity import teacher_id as weights_teacher_id
from s2s.tokenizer import Tokenizer, unknown_rate
from student_trainer.local_ray import ensure_ray
from student_trainer.recipe import Recipe
from student_trainer.recipe_io import RecipeError, recipe_to_dict
from student_trainer.stream import read_block_rows, read_layout
from student_trainer.teacher_link import connect_checked
from student_trainer.worker import FINAL_DIR, METRICS_FILE, train_worker

log = logging.getLogger(__name__)
RUN_NAME = "checkpoints"


@dataclass(frozen=True)
class TrainOutcome:
    """Where the final student is and what its manifest says."""

    final_dir: Path
    manifest: Manifest
    metrics_file: Path


def resolve_paths(recipe: Recipe) -> Recipe:
    """The recipe with every path made absolute (workers may run in another directory)."""
    def absolute(value: str | None) -> str | None:
        return str(Path(value).expanduser().resolve()) if value else value
    s, t, d = recipe.student, recipe.teacher, recipe.data
    return dataclasses.replace(
        recipe, output_dir=str(recipe.output_path.expanduser().resolve()),
        student=dataclasses.replace(s, tokenizer=absolute(s.tokenizer) or s.tokenizer, init_from=absolute(s.init_from)),
        teacher=dataclasses.replace(t, in_process=absolute(t.in_process), store=absolute(t.store)),
        data=dataclasses.replace(d, train=absolute(d.train) or d.train, valid=absolute(d.valid) or d.valid))


def preflight(recipe: Recipe, resume: bool) -> tuple[Recipe, str | None]:
    """Check files, tokenizer, output folder and teacher before any work; returns the resolved recipe and
    the teacher's model id. Raises `KDError` subclasses that name the recipe key at fault."""
    recipe = resolve_paths(recipe)
    _check_files(recipe)
    tokenizer = Tokenizer(Path(recipe.student.tokenizer))
    _check_coverage(recipe, tokenizer)
    _check_output(recipe.output_path, resume)
    teacher_id = live_id = None
    if recipe.teacher.in_process and recipe.connects_teacher:
        # Read the manifest only: loading the model in the driver would cost memory (and a GPU) for nothing.
        folder = Path(recipe.teacher.in_process)
        manifest = read_manifest(folder)
        check_fingerprint(tokenizer.fingerprint, manifest.vocab_fingerprint, "student vocabulary",
                          f"teacher {folder}")
        teacher_id = manifest.model_id
        live_id = weights_teacher_id(manifest.model_id, folder) if recipe.teacher.store else None
    elif recipe.teacher.endpoints and recipe.connects_teacher:
        teacher, info = connect_checked(dataclasses.replace(recipe.teacher, store=None), tokenizer.fingerprint)
        teacher.close()
        teacher_id, live_id = info.model_id, info.teacher_id
    if recipe.teacher.store and recipe.connects_teacher:
        from student_trainer.store_teacher import check_store_for_run

        store = check_store_for_run(recipe, tokenizer.fingerprint, live_id)
        teacher_id = teacher_id or store.identity.model_id
    return recipe, teacher_id


def _check_files(recipe: Recipe) -> None:
    problems = []
    for key, value, kind in (("data.train", recipe.data.train, "file"), ("data.valid", recipe.data.valid, "file"),
                             ("student.tokenizer", recipe.student.tokenizer, "dir"),
                             ("student.init_from", recipe.student.init_from, "dir"),
                             ("teacher.in_process", recipe.teacher.in_process, "dir"),
                             ("teacher.store", recipe.teacher.store, "dir")):
        if value and not (Path(value).is_file() if kind == "file" else Path(value).is_dir()):
            problems.append(f"  {key}: {value} is not an existing {'file' if kind == 'file' else 'folder'}")
    if problems:
        hint = "\n(Seq-KD / Seq-Inter recipes train on files written by `kd distill-data`; run it first.)"
        raise RecipeError("recipe points at missing paths:\n" + "\n".join(problems) + hint)
    for key, path in (("data.train", recipe.data.train), ("data.valid", recipe.data.valid)):
        try:
            read_layout(Path(path), recipe.data.src_col, recipe.data.tgt_col)
        except KDError as exc:
            raise RecipeError(f"{key}: {exc}") from exc


MAX_UNKNOWN = 0.02
"""Largest share of `<unk>` tokens a student tokenizer may produce on the training data (sampled)."""


def _check_coverage(recipe: Recipe, tokenizer: Tokenizer, rows: int = 200) -> None:
    """Refuse a student tokenizer that cannot encode the training data (its pieces miss the corpus's
    script or characters): the student would learn `<unk>` and never produce those words."""
    layout = read_layout(Path(recipe.data.train), recipe.data.src_col, recipe.data.tgt_col)
    sample = [r for r in read_block_rows(layout, layout.data_start, layout.size) if r is not None][:rows]
    for side, texts in (("source", [s for s, _ in sample]), ("target", [t for _, t in sample])):
        rate = unknown_rate(tokenizer, texts, side)
        if rate > MAX_UNKNOWN:
            raise RecipeError(
                f"student.tokenizer {recipe.student.tokenizer} cannot encode data.train {recipe.data.train}: "
                f"{rate:.0%} of the {side} tokens of its first {len(sample)} rows are <unk>. Train a tokenizer "
                f"on this corpus: kd tokenizer train --data {recipe.data.train} --src {recipe.data.src_col} "
                f"--tgt {recipe.data.tgt_col} --out DIR, then --set student.tokenizer=DIR")


def _check_output(out: Path, resume: bool) -> None:
    previous = (out / RUN_NAME).exists() or (out / FINAL_DIR).exists()
    if previous and not resume:
        raise RecipeError(f"output_dir {out} already holds a run; pass --resume to continue it, or choose "
                          "another folder with --set output_dir=DIR")
    if resume and not previous:
        log.warning("--resume: %s holds no previous run; starting from scratch", out)


def train(recipe: Recipe, resume: bool = False) -> TrainOutcome:
    """Run a recipe on Ray Train and return the final student (see the module docstring)."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    recipe, teacher_id = preflight(recipe, resume)
    out = recipe.output_path
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe_to_dict(recipe), sort_keys=False), encoding="utf-8")
    ensure_ray(out)
    print(f"[trainer] {recipe.name}: loss {recipe.loss.kind}, teacher {teacher_id or '-'}, output {out}", flush=True)
    trainer = TorchTrainer(
        train_worker, train_loop_config={"recipe": recipe_to_dict(recipe)},
        scaling_config=ScalingConfig(num_workers=recipe.ray.num_workers, use_gpu=_use_gpu(recipe),
                                     resources_per_worker={"CPU": recipe.ray.cpus_per_worker}),
        run_config=RunConfig(name=RUN_NAME, storage_path=str(out),
                             failure_config=FailureConfig(max_failures=recipe.ray.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=recipe.keep_checkpoints)))
    _fit(trainer)
    final = out / FINAL_DIR
    return TrainOutcome(final, read_manifest(final), out / METRICS_FILE)


def _use_gpu(recipe: Recipe) -> bool:
    import ray

    if recipe.ray.use_gpu is not None:
        return recipe.ray.use_gpu
    return float(ray.cluster_resources().get("GPU", 0)) >= 1


def _fit(trainer: Any) -> None:
    """`trainer.fit()`, turning a worker's `KDError` (e.g. a vocabulary mismatch) into a plain `KDError`."""
    from ray.train import TrainingFailedError

    try:
        trainer.fit()
    except TrainingFailedError as exc:
        for rank, failure in sorted(getattr(exc, "worker_failures", {}).items()):
            if isinstance(failure, KDError):
                raise KDError(f"training worker {rank} failed: {_first_line(failure)}") from exc
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if "Traceback" in text else text
