"""`kd up`: the whole system on this machine (redis, Ray, teacher, gateway, distillation, export)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kd.stack.pipeline import UpConfig
from kd.stack.up import run_up


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd up`."""
    defaults = UpConfig()
    up = sub.add_parser("up", help="serve the teacher at once, distil a student and serve it (the main job)",
                        description="Starts redis (unless REDIS_URL), a Ray head, the teacher and the gateway "
                                    "(serving the teacher's int8 export within minutes), then distils a student "
                                    "as the plan says (default: Seq-KD data, the teacher shrunk to 3/1 layers, a "
                                    "Ray training job), exports it and makes it the gateway's default model. "
                                    "Ctrl-C stops everything; a second run reuses finished artefacts.")
    up.add_argument("--work-dir", type=Path, default=defaults.work_dir, help="where artefacts and logs go")
    up.add_argument("--teacher", type=Path, action="append", default=[],
                    help="teacher model folder (default: the reference teacher in ../shared/models, "
                         "or a teacher-small trained first); repeat it to distil from an ensemble of teachers "
                         "of one vocabulary (the first is the one exported, shrunk and evaluated)")
    up.add_argument("--plan", default=defaults.plan,
                    help="the distillation plan: a bundled name (default) or a YAML file (kd/stack/plans/)")
    up.add_argument("--recipe", default=None, help="training recipe instead of the plan's (bundled name or file)")
    up.add_argument("--max-steps", type=int, default=None, help="student training steps (default: the plan's)")
    up.add_argument("--teacher-steps", type=int, default=defaults.teacher_steps,
                    help="training steps when a teacher must be trained first")
    up.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra recipe overrides for the student (repeatable)")
    up.add_argument("--port", type=int, default=defaults.gateway_port, help="gateway port (0 = any free port)")
    up.add_argument("--eval-limit", type=int, default=defaults.eval_limit,
                    help="test verses to evaluate on (0 = the whole test set)")
    up.add_argument("--train-limit", type=int, default=None,
                    help="use only the first N training verses (quick demos and tests)")
    up.add_argument("--exit-when-ready", action="store_true",
                    help="stop everything once the student is served (for tests and scripts)")
    up.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = UpConfig(work_dir=args.work_dir, teacher=tuple(args.teacher), plan=args.plan, recipe=args.recipe,
                      max_steps=args.max_steps, overrides=tuple(args.overrides), teacher_steps=args.teacher_steps,
                      gateway_port=args.port, eval_limit=args.eval_limit or None, train_limit=args.train_limit,
                      exit_when_ready=args.exit_when_ready)
    return run_up(config)
