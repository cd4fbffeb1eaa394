"""`kd model`: create a randomly initialised model from a size preset, shrink a teacher into a student
that starts from its weights, and inspect checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2s.checkpoint import Manifest, load_checkpoint, read_manifest, save_checkpoint
from s2s.presets import PRESETS, build_model, count_parameters
from s2s.shrink import plan_layers, shrink
from s2s.tokenizer import Tokenizer


def _layer_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer indices like 0,1,2, got {text!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd model create`, `kd model shrink` and `kd model info`."""
    model = sub.add_parser("model", help="create, shrink or inspect model checkpoints")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    create = model_sub.add_parser("create", help="a new random model of a preset size, saved as a checkpoint")
    create.add_argument("--preset", choices=sorted(PRESETS), required=True, help="model size")
    create.add_argument("--tokenizer", type=Path, required=True, help="tokenizer (or model) folder")
    create.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    create.add_argument("--seed", type=int, default=0, help="initialisation seed")
    create.set_defaults(func=run_create)
    shrink_p = model_sub.add_parser(
        "shrink", help="a student of the teacher's width that starts from its weights (shrink and fine-tune)",
        description="Copies the teacher's embeddings, the chosen encoder layers and the chosen decoder layers "
                    "into a smaller model. Example: kd model shrink --teacher T --decoder-layers 0 --out S "
                    "(all encoder layers, decoder layer 0: the 3/1 student-small shape for a 3/3 teacher).")
    shrink_p.add_argument("--teacher", type=Path, required=True, help="teacher model folder")
    shrink_p.add_argument("--encoder-layers", type=_layer_list, default=None,
                          help="teacher encoder layers to keep, e.g. 0,1,2 (default: all)")
    shrink_p.add_argument("--decoder-layers", type=_layer_list, default=[0],
                          help="teacher decoder layers to keep, e.g. 0 (default: 0)")
    shrink_p.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    shrink_p.set_defaults(func=run_shrink)
    info = model_sub.add_parser("info", help="print a checkpoint's manifest")
    info.add_argument("--model", type=Path, required=True, help="checkpoint or Hugging Face Marian folder")
    info.set_defaults(func=run_info)


def run_create(args: argparse.Namespace) -> int:
    tokenizer = Tokenizer(args.tokenizer)
    model = build_model(args.preset, tokenizer, args.seed)
    manifest = Manifest(model_id=args.out.name, vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(model), preset=args.preset)
    save_checkpoint(model, tokenizer, args.out, manifest)
    print(f"{args.preset}: {manifest.parameters:,} parameters -> {args.out}")
    return 0


def run_shrink(args: argparse.Namespace) -> int:
    teacher = load_checkpoint(args.teacher)
    plan = plan_layers(teacher.model.config, args.encoder_layers, args.decoder_layers)
    student = shrink(teacher.model, plan)
    shape = f"{len(plan.encoder_layers)}/{len(plan.decoder_layers)}"
    manifest = Manifest(model_id=args.out.name, vocab_fingerprint=teacher.tokenizer.fingerprint,
                        parameters=count_parameters(student), parent_teacher=teacher.manifest.model_id,
                        recipe={"shrink": {"teacher": str(args.teacher), "encoder_layers": list(plan.encoder_layers),
                                           "decoder_layers": list(plan.decoder_layers)}})
    save_checkpoint(student, teacher.tokenizer, args.out, manifest)
    print(f"shrunk {teacher.manifest.model_id} to {shape} (encoder layers {list(plan.encoder_layers)}, decoder "
          f"layers {list(plan.decoder_layers)}): {manifest.parameters:,} parameters -> {args.out}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    print(read_manifest(args.model).to_json())
    return 0
