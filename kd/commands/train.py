"""`kd train` (a recipe on Ray Train) and `kd distill-data` (Seq-KD / Seq-Inter corpora via Generate)."""

from __future__ import annotations

import argparse

from student_trainer.cli import add_train_args, run_train


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd train` and `kd distill-data`."""
    train = sub.add_parser("train", help="train a student, teacher or baseline from a recipe, on Ray",
                           description="Train from a recipe (YAML). Local Ray by default; an existing cluster "
                                       "when RAY_ADDRESS is set. Example: kd train --recipe ka --set max_steps=2000")
    add_train_args(train)
    train.set_defaults(func=run_train)
    distil = sub.add_parser("distill-data", help="make the Seq-KD and Seq-Inter corpora with the teacher's beam search",
                            description="Writes OUT/seq_kd.tsv (teacher's best beam output) and OUT/seq_inter.tsv "
                                        "(n-best candidate with the highest sentence BLEU to the reference), with "
                                        "the input's columns. Only text crosses (the teacher tokenises), so the "
                                        "teacher may be of any family and the student may have its own "
                                        "vocabulary. Finished chunks are kept: rerun to resume.")
    distil.add_argument("--teacher", required=True, help="teacher endpoints, host:port[,host:port]")
    distil.add_argument("--data", required=True, help="input TSV with a header row")
    distil.add_argument("--out", required=True, help="output folder")
    distil.add_argument("--beam", type=int, default=5, help="beam size (default 5)")
    distil.add_argument("--nbest", type=int, default=5, help="n-best candidates for Seq-Inter (default 5)")
    distil.add_argument("--max-len", type=int, default=128, help="longest output in tokens (default 128)")
    distil.add_argument("--chunk-size", type=int, default=256, help="sentences per Ray task (default 256)")
    distil.add_argument("--parallel", type=int, default=2, help="Ray tasks in flight (default 2)")
    distil.add_argument("--src", default="es", help="source column (default es)")
    distil.add_argument("--tgt", default="en", help="target column (default en)")
    distil.set_defaults(func=run_distill)


def run_distill(args: argparse.Namespace) -> int:
    from student_trainer.distill_data import DistillSpec, distill_data

    spec = DistillSpec(teacher=args.teacher, data=args.data, out_dir=args.out, beam=args.beam, nbest=args.nbest,
                       max_len=args.max_len, chunk_size=args.chunk_size, parallel=args.parallel,
                       src_col=args.src, tgt_col=args.tgt)
    outcome = distill_data(spec)
    print(f"teacher {outcome.teacher_id}: {outcome.rows} rows in {outcome.chunks} chunks "
          f"({outcome.chunks_reused} reused), {outcome.skipped_rows} bad rows skipped")
    for name, path in outcome.paths.items():
        print(f"{name}: {path}")
    return 0
