"""`kd teacher serve`: run the teacher service (same flags as `python -m services.teacher`)."""

from __future__ import annotations

import argparse

from services.teacher.config import add_serve_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd teacher serve`."""
    teacher = sub.add_parser("teacher", help="serve a teacher model over gRPC")
    teacher_sub = teacher.add_subparsers(dest="teacher_command", metavar="ACTION", required=True)
    serve = teacher_sub.add_parser("serve", help="serve a Marian teacher (kd.teacher.v1 over gRPC)")
    add_serve_arguments(serve)
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from services.teacher.server import serve

    return serve(config_from_args(args))
