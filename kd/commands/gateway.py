"""`kd export` (checkpoint → CTranslate2) and `kd gateway` (serve the exports over REST)."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2s.export import QUANTIZATIONS


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd export` and `kd gateway`."""
    ex = sub.add_parser("export", help="convert a student checkpoint to CTranslate2 for the gateway")
    ex.add_argument("--model", type=Path, required=True, help="checkpoint or Hugging Face Marian folder")
    ex.add_argument("--out", type=Path, required=True,
                    help="export folder, e.g. models/<id>; an older export there is replaced atomically")
    ex.add_argument("--quantization", choices=QUANTIZATIONS, default="int8", help="weight type (default int8)")
    ex.add_argument("--eval-tsv", type=Path, default=None,
                    help="measure the export's greedy BLEU on this TSV (columns es, en) and record it")
    ex.add_argument("--eval-limit", type=int, default=None, help="use only the first N sentences of --eval-tsv")
    ex.set_defaults(func=run_export)
    gw = sub.add_parser("gateway", help="serve the models under a folder over REST (FastAPI + CTranslate2)",
                        description="Every KD_GATEWAY_* environment variable (see docs/gateway.md) applies; "
                                    "flags win over the environment.")
    from services.gateway.server import add_arguments

    add_arguments(gw)
    gw.set_defaults(func=run_gateway)


def run_export(args: argparse.Namespace) -> int:
    from s2s.errors import KDError
    from s2s.export import export_checkpoint

    if args.eval_limit is not None and args.eval_limit < 1:
        raise KDError(f"--eval-limit must be at least 1, got {args.eval_limit}")
    info = export_checkpoint(args.model, args.out, args.quantization, args.eval_tsv, args.eval_limit)
    bleu = f", BLEU {info.bleu:.2f} on {info.bleu_sentences} sentences" if info.bleu is not None else ""
    print(f"exported {args.model} -> {args.out} ({info.quantization}, {info.size_bytes / 1e6:.1f} MB{bleu})")
    return 0


def run_gateway(args: argparse.Namespace) -> int:
    from services.gateway.server import serve, settings_from_args

    serve(settings_from_args(args), args.log_level)
    return 0
