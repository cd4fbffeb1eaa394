"""`kd teacher serve`: run the teacher service (same flags as `python -m services.teacher`); `kd teacher
precompute`: a corpus's teacher answers written once into a teacher-output store."""

from __future__ import annotations

import argparse

from services.teacher.config import add_serve_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd teacher serve` and `kd teacher precompute`."""
    teacher = sub.add_parser("teacher", help="serve a teacher model over gRPC, or precompute its answers")
    teacher_sub = teacher.add_subparsers(dest="teacher_command", metavar="ACTION", required=True)
    serve = teacher_sub.add_parser("serve", help="serve a Marian teacher (kd.teacher.v1 over gRPC)")
    add_serve_arguments(serve)
    serve.set_defaults(func=run_serve)
    _add_precompute(teacher_sub)


def run_serve(args: argparse.Namespace) -> int:
    from services.teacher.server import serve

    return serve(config_from_args(args))


def _add_precompute(sub: argparse._SubParsersAction) -> None:
    pre = sub.add_parser(
        "precompute", help="write a corpus's teacher answers (top-k or sampled) once into a store folder",
        description="Computes the teacher's TopK (or Sample) answers for every sentence of a training corpus and "
                    "writes them into OUT as checksummed Arrow shards with a manifest, so that many students train "
                    "from it (recipe key teacher.store=OUT) with no teacher running. Tokenises exactly as the "
                    "trainer does (same columns and --max-len as the recipe's data section). Finished shards are "
                    "kept: run the same command again to resume.")
    where = pre.add_argument_group("the teacher (exactly one)")
    where.add_argument("--endpoints", default=None, metavar="HOST:PORT[,HOST:PORT]",
                       help="live teacher services; shards run as Ray tasks spread over the replicas")
    where.add_argument("--model", default=None, metavar="DIR", help="a teacher folder, loaded in this process")
    pre.add_argument("--data", required=True, help="the training TSV (with a header row), as the recipe's data.train")
    pre.add_argument("--out", required=True, help="the store folder")
    pre.add_argument("--tokenizer", default=None, metavar="DIR",
                     help="the student's tokenizer (default: --model, else the recipes' default student.tokenizer)")
    pre.add_argument("--src", default="es", help="source column (default es; the recipe's data.src_col)")
    pre.add_argument("--tgt", default="en", help="target column (default en; the recipe's data.tgt_col)")
    pre.add_argument("--max-len", type=int, default=128, help="tokens kept per side (default 128; data.max_len)")
    signal = pre.add_argument_group("the signal")
    signal.add_argument("--k", type=int, default=8, help="top-k width, with the rest mass (default 8; loss.k)")
    signal.add_argument("--sample", type=int, default=None, metavar="M",
                        help="instead: M draws from q per position, kept as ids and counts (loss.m of word_kd_sampled)")
    signal.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0; loss.seed)")
    pre.add_argument("--shard-sentences", type=int, default=4096, help="sentences per shard (default 4096)")
    pre.add_argument("--parallel", type=int, default=None,
                     help="Ray tasks in flight with --endpoints (default: one per replica)")
    pre.add_argument("--limit", type=int, default=None, help="only the first N usable rows")
    pre.add_argument("--device", default="auto", help="device of --model (auto, cpu, cuda)")
    pre.add_argument("--threads", type=int, default=0,
                     help="torch CPU threads of --model (default: every core; 1 on a shared machine)")
    pre.set_defaults(func=run_precompute)


def run_precompute(args: argparse.Namespace) -> int:
    from student_trainer.precompute import PrecomputeSpec, precompute

    spec = PrecomputeSpec(data=args.data, out=args.out, endpoints=args.endpoints, model=args.model,
                          tokenizer=args.tokenizer, src_col=args.src, tgt_col=args.tgt, max_len=args.max_len,
                          k=args.k, sample=args.sample, seed=args.seed, shard_sentences=args.shard_sentences,
                          parallel=args.parallel, limit=args.limit, device=args.device,
                          threads=args.threads)
    outcome = precompute(spec)
    m = outcome.manifest
    per_position = m.bytes / m.positions if m.positions else 0.0
    print(f"store {args.out}: teacher {m.identity.teacher_id}, {m.identity.signal.describe()}; {m.sentences} "
          f"sentences, {m.positions} positions, {m.bytes / 1e6:.1f} MB ({per_position:.1f} bytes a position); "
          f"{outcome.shards} shards ({outcome.shards_reused} reused) in {outcome.seconds:.0f} s")
    print(f"train from it: --set teacher.store={args.out}")
    return 0
