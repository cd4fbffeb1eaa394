"""`kd up`'s teacher-output store step: the teacher's answers precomputed once, every student trained from them.

With `teacher_store: true` in the plan, `kd up` runs `kd teacher precompute` against the teacher it serves (a
Ray job on the stack's head) for the very training data, columns and length limit the student's job will use,
into WORK/teacher-store/<signal>, and adds `teacher.store=` that folder to the job's overrides. The teacher's
endpoint stays set, so that what a store cannot hold (validation diagnostics, Score for KA) still reaches it.
The store is kept: a second `kd up`, or any `kd train` on the same data and teacher, trains without paying the
teacher again. A recipe whose objective asks nothing a store holds (NLL on Seq-KD data, KA) gets no store.

`store_overrides` is the one call the pipeline makes (`kd.stack.up._distil`); the rest is pure and tested.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from s2s.teacher.contract import Signal
from student_trainer.recipe import Recipe
from student_trainer.recipe_io import load_recipe
from student_trainer.store_teacher import required_signal

if TYPE_CHECKING:
    from kd.stack.pipeline import Up


def store_folder(root: Path, signal: Signal) -> Path:
    """Where `kd up` keeps the store of one signal: WORK/teacher-store/topk8, .../sampled12-seed0."""
    name = f"topk{signal.size}" if signal.kind == "topk" else f"sampled{signal.size}-seed{signal.seed}"
    return root / "teacher-store" / name


def precompute_argv(endpoint: str, recipe: Recipe, out: Path) -> list[str]:
    """The `kd teacher precompute` command for what `recipe` trains on and asks of the teacher."""
    signal = required_signal(recipe.loss)
    assert signal is not None, "only for recipes whose objective a store can answer"
    d = recipe.data
    size = ["--k", str(signal.size)] if signal.kind == "topk" else ["--sample", str(signal.size), "--seed",
                                                                    str(signal.seed)]
    return [sys.executable, "-m", "kd", "teacher", "precompute", "--endpoints", endpoint, "--data", d.train,
            "--src", d.src_col, "--tgt", d.tgt_col, "--max-len", str(d.max_len), "--tokenizer",
            recipe.student.tokenizer, "--out", str(out), *size]


def store_overrides(up: Up, enabled: bool, endpoint: str, recipe: str, sets: Sequence[str]) -> list[str]:
    """Precompute the store the run needs (when `enabled` and its objective can use one) and return the
    overrides that train from it; [] otherwise. `sets` are the overrides the training job gets, in the order
    `Up.train` applies them (after its data paths)."""
    if not enabled:
        return []
    paths = up.paths
    loaded = load_recipe(recipe, [f"data.train={paths.data / 'train.tsv'}", f"data.valid={paths.data / 'valid.tsv'}",
                                *sets])
    signal = required_signal(loaded.loss)
    if signal is None:
        print(f"[kd up] teacher store: loss.kind={loaded.loss.kind} asks the teacher nothing a store holds; "
              "training without one", flush=True)
        return []
    out = store_folder(paths.root, signal)
    print(f"[kd up] teacher store: the teacher's {signal.describe()} for {loaded.data.train} -> {out} "
          "(kept for later runs)", flush=True)
    up.stack.run("teacher-precompute", precompute_argv(endpoint, loaded, out), env={**up.env, "RAY_ADDRESS": up.gcs})
    return [f"teacher.store={out}"]
