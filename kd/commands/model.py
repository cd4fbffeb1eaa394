"""`kd model`: create a randomly initialised model from a size preset, and inspect checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2s.checkpoint import Manifest, read_manifest, save_checkpoint
from s2s.presets import PRESETS, build_model, count_parameters
from s2s.tokenizer import Tokenizer


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd model create` and `kd model info`."""
    model = sub.add_parser("model", help="create or inspect model checkpoints")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    create = model_sub.add_parser("create", help="a new random model of a preset size, saved as a checkpoint")
    create.add_argument("--preset", choices=sorted(PRESETS), required=True, help="model size")
    create.add_argument("--tokenizer", type=Path, required=True, help="tokenizer (or model) folder")
    create.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    create.add_argument("--seed", type=int, default=0, help="initialisation seed")
    create.set_defaults(func=run_create)
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


def run_info(args: argparse.Namespace) -> int:
    print(read_manifest(args.model).to_json())
    return 0
