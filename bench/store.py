"""Teacher-output store benchmark: bytes a target position on disk and on the wire for top-8 + rest mass and
for the sampled signal at m = 8, 12, 16; and `kd teacher precompute` throughput with 1 and 2 teacher replicas.

    python -m bench.store [--model DIR] [--data TSV] [--sentences 1000] [--throughput-sentences 768]
                          [--out bench/results/store.json] [--update-doc docs/teacher.md]

Sizes: each signal's store is made in-process from the first `--sentences` usable rows (reference teacher,
Bible training set); on disk = the store's shard bytes over its target positions (Arrow overhead included);
on the wire = the serialized `TopKResponse` / `SampleResponse` messages of requests of 32 sentences over their
positions (gRPC's 5-byte frame and HTTP/2 headers left out); in the cache = the packed Redis values.
Throughput: the same top-8 store made through live teacher services (`python -m services.teacher`, one torch
thread each, no cache) by a Ray job, with one replica and with two, after a warm-up; one run each.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.doc_section import publish
from s2s.teacher.contract import SampledResult, TopKResult
from s2s.teacher.store.reader import TeacherStore
from s2s.tokenizer import Tokenizer
from services.teacher import cache_codec, sample_codec, wire
from services.teacher.engine import Reply
from services.teacher.launch import TeacherProcess, free_port
from student_trainer.precompute import PrecomputeSpec, precompute, read_pairs

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO.parent / "shared" / "models" / "teacher-bible-es-en-small"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "bible-es-en" / "train.tsv"
SIGNALS: list[tuple[str, dict[str, Any]]] = [("top-8 + rest", {"k": 8}), ("sampled m = 8", {"sample": 8}),
                                             ("sampled m = 12", {"sample": 12}), ("sampled m = 16", {"sample": 16})]
REQUEST_SENTENCES = 32


def _sizes(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    rows = []
    tokenizer = Tokenizer(args.model)
    for name, signal in SIGNALS:
        spec = PrecomputeSpec(data=str(args.data), out=str(work / name.replace(" ", "")), model=str(args.model),
                              limit=args.sentences, shard_sentences=args.sentences, device="cpu", threads=1,
                              **signal)
        start = time.perf_counter()
        outcome = precompute(spec)
        seconds = time.perf_counter() - start
        store = TeacherStore(spec.out)
        src, tgt = read_pairs(spec, tokenizer)
        results = [store.get(s, t) for s, t in zip(src, tgt, strict=True)]
        positions = sum(len(t) for t in tgt)
        wire_bytes = cache_bytes = 0
        for i in range(0, len(results), REQUEST_SENTENCES):
            part = results[i: i + REQUEST_SENTENCES]
            tops = [r for r in part if isinstance(r, TopKResult)]
            drawn = [r for r in part if isinstance(r, SampledResult)]
            wire_bytes += (wire.topk_response(Reply(tops)).ByteSize() if tops
                           else wire.sample_response(Reply(drawn)).ByteSize())
            cache_bytes += sum(len(cache_codec.encode_topk(r, tokenizer.vocab_size)) for r in tops)
            cache_bytes += sum(len(sample_codec.encode_sampled(r, tokenizer.vocab_size)) for r in drawn)
        distinct = (sum(len(r.ids) for r in results if isinstance(r, SampledResult)) / positions
                    if "sample" in signal else None)
        rows.append({"signal": name, "sentences": outcome.manifest.sentences, "positions": positions,
                     "disk_bytes_per_position": outcome.manifest.bytes / positions,
                     "wire_bytes_per_position": wire_bytes / positions,
                     "cache_bytes_per_position": cache_bytes / positions,
                     "distinct_ids_per_position": distinct, "precompute_seconds_in_process": seconds})
        print(f"[bench] {name}: disk {rows[-1]['disk_bytes_per_position']:.1f} B, wire "
              f"{rows[-1]['wire_bytes_per_position']:.1f} B a position", flush=True)
    return rows


def _throughput(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from student_trainer.local_ray import ensure_ray

    ensure_ray(work)
    ports = [free_port(), free_port()]
    servers = [TeacherProcess(args.model, ["--threads", "1", "--device", "cpu", "--metrics-port", str(p)]).start()
               for p in ports]
    rows: list[dict[str, Any]] = []
    try:
        for replicas in (1, 2):
            endpoints = ",".join(s.target for s in servers[:replicas])
            warm = PrecomputeSpec(data=str(args.data), out=str(work / f"warm{replicas}"), endpoints=endpoints,
                                  limit=64, shard_sentences=16)
            precompute(warm)
            spec = PrecomputeSpec(data=str(args.data), out=str(work / f"replicas{replicas}"), endpoints=endpoints,
                                  limit=args.throughput_sentences, shard_sentences=args.shard_sentences)
            before = [_computed(p) for p in ports]
            start = time.perf_counter()
            outcome = precompute(spec)
            seconds = time.perf_counter() - start
            m = outcome.manifest
            rows.append({"replicas": replicas, "sentences": m.sentences, "positions": m.positions,
                         "seconds": seconds, "sentences_per_s": m.sentences / seconds,
                         "positions_per_s": m.positions / seconds,
                         "sentences_per_replica": [_computed(p) - b for p, b in zip(ports, before, strict=True)]})
            print(f"[bench] {replicas} replica(s): {m.sentences / seconds:.0f} sentences/s", flush=True)
    finally:
        for server in servers:
            server.stop()
    for r in rows:
        r["vs_one_replica"] = r["sentences_per_s"] / rows[0]["sentences_per_s"]
    return rows


def _computed(metrics_port: int) -> float:
    """Sentences a teacher server's model has computed (its metrics), to show how the work was spread."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("kd_teacher_model_sentences_total"))


def markdown_tables(report: dict[str, Any]) -> str:
    lines = ["| signal | bytes a position on disk (store) | on the wire (gRPC) | in the Redis cache "
             "| distinct ids a position |", "| --- | --- | --- | --- | --- |"]
    for r in report["sizes"]:
        distinct = "-" if r["distinct_ids_per_position"] is None else f"{r['distinct_ids_per_position']:.2f}"
        lines.append(f"| {r['signal']} | {r['disk_bytes_per_position']:.1f} | {r['wire_bytes_per_position']:.1f} | "
                     f"{r['cache_bytes_per_position']:.1f} | {distinct} |")
    lines += ["", "| teacher replicas | sentences/s | target positions/s | vs one replica | sentences each replica "
                  "computed |", "| --- | --- | --- | --- | --- |"]
    for r in report["throughput"]:
        split = " / ".join(f"{n:.0f}" for n in r["sentences_per_replica"][: r["replicas"]])
        lines.append(f"| {r['replicas']} | {r['sentences_per_s']:.0f} | {r['positions_per_s']:.0f} | "
                     f"{r['vs_one_replica']:.2f}x | {split} |")
    load = report["load_average_before"][0], report["load_average_after"][0]
    lines += ["", f"(load average {load[0]:.1f} before, {load[1]:.1f} after, on {report['machine']['cpus']} cores)"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="teacher model folder")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="corpus TSV (es/en columns)")
    parser.add_argument("--sentences", type=int, default=1000, help="sentences of the size measurement")
    parser.add_argument("--throughput-sentences", type=int, default=768, help="sentences of each throughput run")
    parser.add_argument("--shard-sentences", type=int, default=64, help="shard size of the throughput runs")
    parser.add_argument("--skip-throughput", action="store_true", help="sizes only")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "store.json")
    parser.add_argument("--update-doc", type=Path, default=None, help="fill the tables in this markdown file")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    load = os.getloadavg()
    try:
        report = {"benchmark": "store", "model": str(args.model), "data": str(args.data),
                  "sizes": _sizes(args, work), "throughput": [] if args.skip_throughput else _throughput(args, work),
                  "load_average_before": load, "load_average_after": os.getloadavg(),
                  "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    publish(report, args.out, markdown_tables(report), args.update_doc, "store")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
