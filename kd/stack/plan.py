"""What `kd up` distils, as data: a small YAML plan naming the pipeline's steps and the training recipe.

The default plan (`kd/stack/plans/default.yaml`) is the best pipeline measured to fit in about half an
hour on 2 cores (see docs/results.md): sequence-level data from the teacher, a student shrunk from the
teacher's own weights, fine-tuned on that data. A user's plan file (`kd up --plan FILE`) names only what
differs; unknown keys and wrong types are refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from s2s.errors import KDError
from student_trainer.recipe_io import typed_from_dict

PLANS_DIR = Path(__file__).resolve().parent / "plans"


@dataclass(frozen=True)
class UpPlan:
    """The distillation pipeline of `kd up`.

    `recipe`: the training recipe (a bundled name or a file). `shrink`: start the student from the
    teacher's embeddings, all its encoder layers and decoder layer `decoder_layer` (else a fresh model of
    the recipe's preset). `sequence_data`: first translate the training set with the teacher's beam search
    (`kd distill-data`, beam `beam`) and train on that (Seq-KD). `max_steps`: training steps.

    `student_vocab`: `teacher` (the student shares the teacher's vocabulary: every objective, and the shrunk
    teacher as its start), `own` (a SentencePiece vocabulary of `vocab_size` pieces trained on the corpus
    and the teacher's translations, a fresh `student_preset` model, sequence-level distillation only), or
    `auto`: `teacher` when the teacher is a Marian model with one joint vocabulary, else `own` (a T5, mBART
    or NLLB teacher's vocabulary of up to 250,000 pieces is no vocabulary for a small, fast student).

    `teacher_store`: precompute the teacher's answers the objective needs (TopK or the sampled signal) once
    into WORK/teacher-store and train from that store (`kd.stack.store_step`).
    """

    recipe: str = "up_student"
    shrink: bool = True
    decoder_layer: int = 0
    sequence_data: bool = True
    beam: int = 5
    max_steps: int = 600
    student_vocab: Literal["auto", "teacher", "own"] = "auto"
    vocab_size: int = 4000
    student_preset: str = "student-small"
    teacher_store: bool = False


def load_plan(spec: str | Path) -> UpPlan:
    """A plan file, or the bundled plan of that name (`default`)."""
    path = Path(spec)
    if not path.is_file():
        bundled = PLANS_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
        if path.parent != Path(".") or not bundled.is_file():
            known = ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.yaml")))
            raise KDError(f"plan {str(spec)!r} is neither a file nor a bundled plan ({known})")
        path = bundled
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise KDError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KDError(f"{path} must hold a mapping of plan keys, got {type(data).__name__}")
    plan = typed_from_dict(UpPlan, data, str(path))
    if plan.max_steps < 1 or plan.beam < 1 or plan.decoder_layer < 0 or plan.vocab_size < 100:
        raise KDError(f"{path}: max_steps and beam must be >= 1, decoder_layer >= 0 and vocab_size >= 100")
    if plan.student_vocab == "own" and not plan.sequence_data:
        raise KDError(f"{path}: a student with its own vocabulary learns from the teacher's translations: "
                      "set sequence_data: true (or student_vocab: teacher)")
    return plan
