"""`kd up`: the whole system on this machine (redis, Ray, teacher, gateway, distillation, export).

Its flags come from the declarations themselves: `UpConfig` (kd/stack/config.py), the corpus import's
`ImportSpec` flags (`kd data import` takes the same) and the teacher's direction (`--src-lang/--tgt-lang`).
"""

from __future__ import annotations

import argparse

from kd.args import add_import_args, add_language_args, import_spec_from_args, languages_from_args
from kd.stack.config import UpConfig
from kd.stack.up import run_up
from s2s.errors import KDError
from s2s.settings import add_arguments, from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd up`."""
    up = sub.add_parser(
        "up", help="serve the teacher at once, distil a student and serve it (the main job)",
        description="Starts redis (unless REDIS_URL), a Ray head, the teacher and the gateway (serving the "
                    "teacher's int8 export within minutes), then distils a student as the plan says (default: "
                    "Seq-KD data, the teacher shrunk to 3/1 layers, or a student with its own vocabulary for a "
                    "teacher of another family, a Ray training job), exports it and makes it the gateway's "
                    "default model. With --data FILE --src CODE --tgt CODE it imports your corpus first (and "
                    "trains a teacher on it when --teacher is not given). Ctrl-C stops everything; a second run "
                    "reuses finished artefacts. Examples: `kd up`; `kd up --data pairs.tsv --src en --tgt es`; "
                    "`kd up --teacher opus-mt-en-de --data corpus.jsonl --src en --tgt de`.")
    add_arguments(up, UpConfig)
    add_import_args(up, required=False)
    add_language_args(up)
    up.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    corpus = None
    if args.data is not None:
        corpus = import_spec_from_args(args, UpConfig().work_dir / "data" / "corpus")  # placed in the work folder
    elif args.src or args.tgt:
        raise KDError("--src and --tgt name the languages of --data FILE; give the corpus too")
    config = from_args(UpConfig, args, corpus=corpus, languages=languages_from_args(args))
    return run_up(config)
