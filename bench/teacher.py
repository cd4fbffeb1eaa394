"""Teacher service benchmark: TopK throughput in-process, over gRPC (dynamic batching on and off) and over
gRPC with a warm Redis cache, at several numbers of concurrent clients; plus bytes per position on the wire.

    python -m bench.teacher [--model DIR] [--sentences 96] [--per-request 4] [--clients 1,4,8]
                            [--out bench/results/teacher.json] [--update-doc docs/teacher.md]

Every client thread sends TopK requests of `--per-request` sentences (teacher forcing on reference
translations) until the shared workload is done; throughput = sentences (and target tokens) per second of
wall time. Each server configuration runs as its own process (`python -m services.teacher`, so clients
never share an interpreter with the model); all are started up front and measured in interleaved rounds,
and the median round is kept, so that load from other programs hits every mode alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from bench.doc_section import fill_section
from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from s2s.corpus import read_corpus
from s2s.local_teacher import InProcessTeacher
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared
from s2s.tokenizer import Tokenizer
from services.teacher.launch import RedisProcess, TeacherProcess
from services.teacher.server import grpc_options
from teacher_client import TeacherClient

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = in_shared(REFERENCE_TEACHER)
DEFAULT_DATA = in_shared(BIBLE / "valid.tsv")


@dataclass(frozen=True)
class Workload:
    """TopK requests (lists of sentence pairs) and what they add up to."""

    requests: list[tuple[list[list[int]], list[list[int]]]]
    sentences: int
    positions: int


@dataclass(frozen=True)
class Row:
    mode: str
    clients: int
    seconds: float
    sentences_per_s: float
    tokens_per_s: float
    rounds_sentences_per_s: list[float]


def load_workload(tokenizer: Tokenizer, data: Path, sentences: int, per_request: int, max_len: int) -> Workload:
    pairs = read_corpus(data).pairs[:sentences]
    src = [tokenizer.encode_source(p.src, max_len=max_len) for p in pairs]
    tgt = [tokenizer.encode_target(p.tgt, max_len=max_len) for p in pairs]
    requests = [(src[i : i + per_request], tgt[i : i + per_request]) for i in range(0, len(src), per_request)]
    return Workload(requests, len(src), sum(len(t) for t in tgt))


def run_clients(call: Callable[[list[list[int]], list[list[int]]], Any], workload: Workload, clients: int) -> float:
    """Seconds for `clients` threads to work through all requests (each thread takes the next one)."""
    position = iter(range(len(workload.requests)))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            try:
                call(*workload.requests[index])
            except BaseException as exc:  # noqa: BLE001 - reported after the run
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"benchmark requests failed: {errors[0]!r}")
    return time.perf_counter() - start


def measure_all(modes: dict[str, Callable[..., Any]], workload: Workload, clients: Sequence[int],
                rounds: int) -> list[Row]:
    """Median throughput of every mode at every client count. The modes take turns round by round, so
    that a busy patch on a shared machine hits all of them alike instead of one."""
    for call in modes.values():
        run_clients(call, Workload(workload.requests[:4], 0, 0), 1)  # warm-up
    rows = []
    for n in clients:
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(rounds):
            for mode, call in modes.items():
                times[mode].append(run_clients(call, workload, n))
        for mode, samples in times.items():
            seconds = statistics.median(samples)
            rows.append(Row(mode, n, round(seconds, 3), round(workload.sentences / seconds, 2),
                            round(workload.positions / seconds, 1),
                            [round(workload.sentences / t, 1) for t in samples]))
            print(f"{mode:<20} clients={n}: {rows[-1].sentences_per_s:8.1f} sent/s "
                  f"(rounds: {rows[-1].rounds_sentences_per_s})", flush=True)
    return rows


def wire_bytes(target: str, workload: Workload, k: int, vocab_size: int) -> dict[str, float]:
    """Bytes per target position of TopK responses at `k`, against full float32 logits."""
    with grpc.insecure_channel(target, options=grpc_options(256 << 20)) as channel:
        stub = pb_grpc.TeacherStub(channel)
        total = 0
        for src, tgt in workload.requests:
            request = pb.TopKRequest(k=k, sentences=[
                pb.SentencePair(source=tensors.pack_ids(np.array(s)), target=tensors.pack_ids(np.array(t)))
                for s, t in zip(src, tgt, strict=True)])
            total += len(stub.TopK(request, timeout=300).SerializeToString())
    per_position = total / workload.positions
    return {"k": k, "bytes_per_position": round(per_position, 2), "fp32_logits_bytes_per_position": vocab_size * 4,
            "reduction": round(vocab_size * 4 / per_position, 1)}


def run_benchmark(args: argparse.Namespace, workload: Workload, vocab_size: int) -> tuple[list[Row], dict[str, float]]:
    """All servers up at once (idle ones cost nothing), measured in turns; then the wire size."""
    clients = [int(c) for c in args.clients.split(",")]
    redis_server = RedisProcess().start()
    settings = {"grpc, batching on": [], "grpc, batching off": ["--no-dynamic-batching"],
                "grpc, warm cache": ["--redis-url", redis_server.url]}
    servers = {mode: TeacherProcess(args.model, ["--device", "cpu", *flags]) for mode, flags in settings.items()}
    try:
        for server in servers.values():  # one at a time: each start loads torch and the model
            server.start()
        remote = {mode: TeacherClient(server.target, timeout_s=300) for mode, server in servers.items()}
        cached = remote["grpc, warm cache"]
        run_clients(lambda s, t: cached.topk(s, t, args.k), workload, 4)  # fill the cache
        with InProcessTeacher(args.model, device="cpu") as local:
            modes: dict[str, Callable[..., Any]] = {"in-process": lambda s, t: local.topk(s, t, args.k)}
            for mode, client in remote.items():
                modes[mode] = lambda s, t, c=client: c.topk(s, t, args.k)
            rows = measure_all(modes, workload, clients, args.rounds)
        for client in remote.values():
            client.close()
        return rows, wire_bytes(servers["grpc, batching on"].target, workload, 8, vocab_size)
    finally:
        for server in servers.values():
            server.stop()
        redis_server.stop()


def summarise(rows: list[Row], wire: dict[str, float]) -> dict[str, Any]:
    def speed(mode: str, clients: int) -> float:
        return next(r.sentences_per_s for r in rows if r.mode == mode and r.clients == clients)

    counts = sorted({r.clients for r in rows})
    mid, top = (4 if 4 in counts else counts[len(counts) // 2]), counts[-1]
    checks = {
        f"grpc_vs_in_process_at_{mid}": round(speed("grpc, batching on", mid) / speed("in-process", mid), 2),
        f"batching_on_vs_off_at_{top}": round(speed("grpc, batching on", top) / speed("grpc, batching off", top), 2),
        f"warm_cache_vs_model_at_{top}": round(speed("grpc, warm cache", top) / speed("grpc, batching on", top), 1),
        "bytes_per_position_at_k8": wire["bytes_per_position"],
    }
    targets = {f"grpc_vs_in_process_at_{mid}": 0.9, f"batching_on_vs_off_at_{top}": 2.5,
               f"warm_cache_vs_model_at_{top}": 20.0}
    met = {name: checks[name] >= bound for name, bound in targets.items()}
    met["bytes_per_position_at_k8"] = wire["bytes_per_position"] <= 64
    return {"ratios": checks, "targets_met": met}


def markdown(rows: list[Row], summary: dict[str, Any], wire: dict[str, float], meta: dict[str, Any]) -> str:
    lines = [f"Measured {meta['date']} on {meta['machine']} ({meta['device']}), model `{meta['model']}`, "
             f"{meta['sentences']} sentences ({meta['positions']} target tokens) in TopK requests of "
             f"{meta['per_request']} sentences, k = {meta['k']}; median of {meta['rounds']} interleaved rounds "
             f"(load average when it started: {meta['load_average']}).", "",
             "| mode | clients | sentences/s | target tokens/s |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r.mode} | {r.clients} | {r.sentences_per_s:.1f} | {r.tokens_per_s:.0f} |" for r in rows]
    lines += ["", "| check | value | target | met |", "| --- | ---: | ---: | :---: |"]
    bounds = {"grpc": "≥ 0.9×", "bytes": "≤ 64 B", "batching": "≥ 2.5×", "warm": "≥ 20×"}
    for name, value in summary["ratios"].items():
        bound = bounds[name.split("_")[0]]
        lines.append(f"| {name} | {value} | {bound} | {'yes' if summary['targets_met'][name] else 'no'} |")
    lines += ["", f"Full float32 logits would be {wire['fp32_logits_bytes_per_position']} bytes per position: "
              f"the k = {wire['k']} answer is {wire['reduction']}× smaller."]
    return "\n".join(lines)



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sentences", type=int, default=96)
    parser.add_argument("--per-request", type=int, default=4)
    parser.add_argument("--max-len", type=int, default=64, help="truncate sentences to this many tokens")
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="repeats per measurement (the median is kept)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "teacher.json")
    parser.add_argument("--update-doc", type=Path, default=None, help="rewrite the results table in this file")
    args = parser.parse_args(argv)
    tokenizer = Tokenizer(args.model)
    workload = load_workload(tokenizer, args.data, args.sentences, args.per_request, args.max_len)
    load_at_start = round(os.getloadavg()[0], 1)
    rows, wire = run_benchmark(args, workload, tokenizer.vocab_size)
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "device": "cpu/float32", "model": args.model.name, "sentences": workload.sentences,
            "positions": workload.positions, "per_request": args.per_request, "k": args.k, "rounds": args.rounds,
            "load_average": load_at_start}
    summary = summarise(rows, wire)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows], "wire": wire, **summary},
                                   indent=2), encoding="utf-8")
    table = markdown(rows, summary, wire, meta)
    print(table)
    if args.update_doc is not None:
        fill_section(args.update_doc, "teacher", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
