"""Every loss path of the trainer runs its training loop against the real teacher server.

These run the worker loop in the test process (`run_local`, no Ray: Ray itself is covered by
test_ray_training.py), against a real `python -m services.teacher` process with a real Redis cache.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import torch

from s2s.checkpoint import load_checkpoint, read_manifest
from s2s.errors import VocabularyMismatchError
from s2s.local_teacher import InProcessTeacher
from s2s.presets import build_model
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch
from student_trainer.metrics import read_metrics
from student_trainer.objectives.driver import Objective
from student_trainer.objectives.registry import lookup, make_settings
from student_trainer.prefetch import Prefetcher
from student_trainer.recipe_io import recipe_from_dict, recipe_to_dict
from student_trainer.teacher_link import WaitClock
from student_trainer.worker import run_local

from .conftest import RecipeFactory

PATHS: list[tuple[str, dict[str, Any]]] = [
    ("nll", {}),
    ("word_kd", {}),
    ("word_kd", {"support": "student", "tail": False}),
    ("ka", {}),
    ("ka", {"support": "teacher", "renormalise": True}),
    ("ka", {"sample_candidates": True}),
    ("jsd", {"beta": 0.3}),
    ("tie_kd", {}),
    ("ka", {"on_policy": "sample"}),
    ("ka_sampled", {}),
    ("ka", {"renormalise": True}),
    ("word_kd", {"on_policy": "greedy"}),
    ("word_kd_sampled", {"m": 6}),
]


def _run(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    progress = run_local(recipe_to_dict(recipe_from_dict(recipe)))
    assert progress.step > 0
    if recipe.get("max_steps") is not None and not progress.stopped_early:
        assert progress.step == recipe["max_steps"]
    return read_metrics(Path(recipe["output_dir"]) / "metrics.jsonl")


@pytest.mark.parametrize(("kind", "loss"), PATHS, ids=[f"{k}-{'-'.join(map(str, v.values())) or 'default'}"
                                                       for k, v in PATHS])
def test_loss_path_trains_and_saves_the_final_student(kind: str, loss: dict[str, Any],
                                                      make_recipe: RecipeFactory) -> None:
    sizes = {key: 4 for key in ("k", "k_prime") if key in lookup(kind).settings.setting_names()}
    recipe = make_recipe(kind, loss={**loss, **sizes})
    records = _run(recipe)
    train = [r for r in records if r["event"] == "train"]
    assert [r["step"] for r in train] == [3, 6]
    for r in train:
        assert torch.isfinite(torch.tensor(r["loss"])) and r["tokens_per_s"] > 0
        assert ("distill" in r) == (kind != "nll")
    manifest = read_manifest(Path(recipe["output_dir"]) / "final")
    assert manifest.parent_teacher == (None if kind == "nll" else "micro")
    assert manifest.recipe["loss"]["kind"] == kind and manifest.metrics["steps"] == 6
    assert "valid_bleu" in manifest.metrics


def test_exact_ka_with_an_in_process_teacher(make_recipe: RecipeFactory, micro_checkpoint: Path) -> None:
    recipe = make_recipe("ka", teacher={"endpoints": None, "in_process": str(micro_checkpoint)},
                         loss={"support": "full"})
    records = _run(recipe)
    assert all(r["distill"] >= 0 for r in records if r["event"] == "train")  # an exact KL is never negative


def test_word_kd_answers_repeat_from_the_cache(make_recipe: RecipeFactory, tiny_data: dict[str, Path],
                                               tmp_path: Path) -> None:
    """A second epoch over the same references is answered by the teacher's Redis cache."""
    train = tmp_path / "train60.tsv"
    train.write_text("\n".join(tiny_data["train"].read_text(encoding="utf-8").splitlines()[:61]) + "\n")
    recipe = make_recipe("word_kd", max_steps=None, epochs=2, log_every=1, checkpoint_every=100,
                         data={"train": str(train), "max_tokens": 400})
    train_records = [r for r in _run(recipe) if r["event"] == "train"]
    rates = {e: [r["cache_hit_rate"] for r in train_records if r["epoch"] == e and r["cache_hit_rate"] is not None]
             for e in (0, 1)}
    assert rates[0] and min(rates[0]) < 1.0  # a fresh run on new text misses the cache at first
    assert rates[1] and all(rate == 1.0 for rate in rates[1])


def test_vocabulary_mismatch_is_refused_before_step_one(make_recipe: RecipeFactory, other_tokenizer: Path) -> None:
    recipe = make_recipe("word_kd", student={"tokenizer": str(other_tokenizer)})
    with pytest.raises(VocabularyMismatchError, match="vocabulary mismatch"):
        run_local(recipe_to_dict(recipe_from_dict(recipe)))
    assert not [r for r in read_metrics(Path(recipe["output_dir"]) / "metrics.jsonl") if r["event"] == "train"]


def test_resume_continues_from_the_newest_checkpoint(make_recipe: RecipeFactory) -> None:
    recipe = make_recipe("word_kd", max_steps=6)
    _run(recipe)
    records = _run({**recipe, "max_steps": 9})
    resume = [r for r in records if r["event"] == "resume"]
    assert [r["from_step"] for r in resume] == [6]
    assert [r["step"] for r in records if r["event"] == "train"] == [3, 6, 9]


def test_split_backward_gives_the_gradients_of_the_combined_loss(micro_checkpoint: Path,
                                                                 tokenizer: Tokenizer) -> None:
    """The NLL part back-propagated while Score is in flight adds up to the single-pass gradients."""
    batch = Batch([tokenizer.encode_source("Y dijo Dios")] * 2, [tokenizer.encode_target("And God said"),
                                                                 tokenizer.encode_target("God")])
    grads = []
    with InProcessTeacher(micro_checkpoint, device="cpu") as teacher:
        for split in (True, False):
            model = build_model("test-micro", tokenizer, seed=4)
            objective = Objective(make_settings("jsd", k=4, k_prime=4), tokenizer.pad_id, teacher, WaitClock())
            # a no-op `no_sync` takes the data-parallel (single backward) path
            objective.step(model, batch, None, torch.device("cpu"), None if split else _no_op_no_sync)
            grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def _no_op_no_sync() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_prefetcher_requests_the_next_batch_before_the_current_one_is_used() -> None:
    sent: list[int] = []
    batches = iter([Batch([[i]], [[i]]) for i in range(4)])

    def request(batch: Batch) -> Future[int]:
        sent.append(batch.src[0][0])
        future: Future[int] = Future()
        threading.Timer(0.01, future.set_result, args=(batch.src[0][0],)).start()
        return future

    order = []
    for batch, future in Prefetcher(batches, request, depth=1):
        order.append((batch.src[0][0], list(sent)))
        assert future is not None and future.result(timeout=5) == batch.src[0][0]
        time.sleep(0.001)
    assert order == [(0, [0, 1]), (1, [0, 1, 2]), (2, [0, 1, 2, 3]), (3, [0, 1, 2, 3])]


def test_final_student_loads_as_a_checkpoint(make_recipe: RecipeFactory, tokenizer: Tokenizer) -> None:
    recipe = make_recipe("nll")
    _run(recipe)
    final = load_checkpoint(Path(recipe["output_dir"]) / "final", expected_fingerprint=tokenizer.fingerprint)
    assert final.manifest.model_id == "test-nll" and final.manifest.preset == "test-micro"


def test_patience_stops_early_and_keep_best_makes_the_best_validation_final(make_recipe: RecipeFactory) -> None:
    """With a micro student the valid BLEU stays flat: the second validation is no better, so patience 1
    stops the run there, and the final student is the first validated one (kept in `best/`)."""
    recipe = make_recipe("nll", max_steps=30, eval_every=2, checkpoint_every=2, log_every=2, patience=1,
                         keep_best=True)
    records = _run(recipe)
    out = Path(recipe["output_dir"])
    stop = [r for r in records if r["event"] == "early_stop"]
    evals = [r for r in records if r["event"] == "eval"]
    assert len(stop) == 1 and stop[0]["step"] == 4 and stop[0]["best_step"] == 2 and len(evals) == 2
    final, best = load_checkpoint(out / "final").model, load_checkpoint(out / "best").model
    for (name, a), b in zip(final.state_dict().items(), best.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    manifest = read_manifest(out / "final")
    assert manifest.metrics["best_step"] == 2 and manifest.metrics["stopped_early"] is True


def test_diagnostics_compare_the_students_top_k_with_the_teachers(make_recipe: RecipeFactory,
                                                                  teacher_endpoint: str) -> None:
    recipe = make_recipe("nll", diagnostics=True, teacher={"endpoints": teacher_endpoint}, eval_every=3,
                         loss={"k": 4, "k_prime": 4})
    evals = [r for r in _run(recipe) if r["event"] == "eval"]
    assert len(evals) == 2
    for r in evals:
        assert 0.0 <= r["diag_topk_precision"] <= 1.0 and 0.0 <= r["diag_top1_agreement"] <= 1.0
        assert 0.0 < r["diag_student_entropy"] <= float(torch.log(torch.tensor(8001.0)))


def test_a_mask_predict_student_trains_validates_and_saves(make_recipe: RecipeFactory, micro_checkpoint: Path) -> None:
    """The CMLM recipe through the same worker loop: loss and length loss fall, mask-predict validation, a
    checkpoint that loads back as a CMLM started from an autoregressive checkpoint's weights."""
    from s2s.cmlm import CMLMModel

    recipe = make_recipe("cmlm", max_steps=12, log_every=4, teacher={}, optim={"lr": 0.01, "warmup_steps": 2},
                         student={"arch": "cmlm", "init_from": str(micro_checkpoint)})
    records = _run(recipe)
    train = [r for r in records if r["event"] == "train"]
    assert len(train) == 3 and train[-1]["loss"] < train[0]["loss"] and "length" in train[0]
    final = load_checkpoint(Path(recipe["output_dir"]) / "final")
    assert isinstance(final.model, CMLMModel)
    assert final.manifest.metrics["valid_decoding"] == "mask-predict T=4 l=3" and "valid_bleu" in final.manifest.metrics


def test_a_cmlm_student_starts_from_an_autoregressive_checkpoints_weights(micro_checkpoint: Path,
                                                                         tokenizer: Tokenizer) -> None:
    from s2s.cmlm import CMLMModel
    from student_trainer.recipe import StudentSpec
    from student_trainer.state import build_student

    model = build_student(StudentSpec(arch="cmlm", init_from=str(micro_checkpoint)), tokenizer)
    start = load_checkpoint(micro_checkpoint).model
    assert isinstance(model, CMLMModel) and model.mask_id == tokenizer.unk_id
    shared = {k: v for k, v in start.state_dict().items() if k in model.state_dict()}
    assert len(shared) >= len(start.state_dict()) - 1
    for name, value in shared.items():
        torch.testing.assert_close(model.state_dict()[name], value, msg=name)
