"""Gateway benchmark: throughput and latency at 1, 8 and 32 clients, and BLEU, for student and teacher.

One run exports the student (int8, CTranslate2) and the teacher (int8, CTranslate2), serves them and the
teacher's PyTorch checkpoint from one real gateway process, and drives it over HTTP:

    python bench/gateway.py [--student CHECKPOINT] [--bleu-sentences 500] [--seconds 5]

Each request carries one test sentence (greedy). BLEU is measured through the same gateway on the first
`--bleu-sentences` verses of the Bible test set. Without `--student`, a randomly initialised
`student-tiny` stands in for speed only: its BLEU is reported as "untrained", and because a random model
never emits `</s>`, each of its requests is capped at the token length of the teacher's translation of
the same sentence (as many decoding steps as a trained student would take). Writes
bench/results/gateway.json, the table in docs/gateway.md and docs/img/gateway-speed-bleu.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from s2s.checkpoint import Manifest, save_checkpoint
from s2s.corpus import read_corpus
from s2s.evaluation import score_corpus
from s2s.export import export_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import Tokenizer

REPO = Path(__file__).resolve().parents[1]
CHUNK = 32  # texts per request in the BLEU pass
TABLE_START, TABLE_END = "<!-- bench:gateway:start -->", "<!-- bench:gateway:end -->"


def prepare_models(root: Path, student: Path | None, teacher: Path) -> bool:
    """Fill `root` with student-int8, teacher-int8 (CTranslate2) and teacher-pytorch; True if trained."""
    if student is None:
        tok = Tokenizer(teacher)
        model = build_model("student-tiny", tok, seed=0)
        student = save_checkpoint(model, tok, root.parent / "student-tiny-random", Manifest(
            model_id="student-tiny-random", vocab_fingerprint=tok.fingerprint,
            parameters=count_parameters(model), preset="student-tiny", parent_teacher=teacher.name))
    print("exporting the student (int8) and the teacher (int8) ...", flush=True)
    export_checkpoint(student, root / "student-int8", "int8")
    export_checkpoint(teacher, root / "teacher-int8", "int8")
    (root / "teacher-pytorch").symlink_to(teacher.resolve(), target_is_directory=True)
    return student.name != "student-tiny-random"


@contextmanager
def gateway(models: Path, threads: int) -> Iterator[str]:
    """A real gateway process on a free port; yields its URL once ready."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "KD_GATEWAY_MAX_BATCH": "32", "KD_GATEWAY_MAX_WAIT_MS": "5",
           "KD_GATEWAY_POLL_SECONDS": "0", "KD_GATEWAY_QUEUE_SIZE": "1024"}
    proc = subprocess.Popen([sys.executable, "-m", "services.gateway", "--models", str(models), "--port",
                             str(port), "--threads", str(threads), "--log-level", "warning"], cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the gateway did not start; see its log above")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def translate_all(url: str, model: str, texts: list[str], caps: list[int] | None) -> list[str]:
    """Translations of `texts` through the gateway: requests of CHUNK texts, or, with one length cap per
    text, CHUNK concurrent one-text requests (which the gateway batches together)."""
    import aiohttp

    async def post(http: aiohttp.ClientSession, body: dict[str, Any]) -> list[str]:
        async with http.post("/v1/translate", json=body) as response:
            response.raise_for_status()
            return list((await response.json())["translations"])

    async def run() -> list[str]:
        connector = aiohttp.TCPConnector(limit=CHUNK)
        async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=900)) as http:
            if caps is None:
                chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
                return [t for chunk in chunks for t in await post(http, {"texts": chunk, "model": model})]
            answers = await asyncio.gather(*(post(http, {"text": t, "model": model, "max_length": n})
                                             for t, n in zip(texts, caps, strict=True)))
            return [a[0] for a in answers]

    return asyncio.run(run())


async def load_test(url: str, model: str, texts: list[str], caps: list[int] | None, clients: int,
                    seconds: float, warmup_s: float = 1.0) -> dict[str, Any]:
    """`clients` closed-loop clients, one sentence per request, for `seconds` after a warm-up (longer
    if needed for at least three requests per client). Requests started in the warm-up are not counted.

    The clients use aiohttp: httpx's async client costs about ten times more CPU per request and, on the
    same cores as the gateway, would measure itself rather than the gateway.
    """
    import aiohttp

    latencies: list[float] = []
    queued: list[float] = []  # the gateway's own `timings.queue_ms`: waiting for a batch
    counter = iter(range(10**9))
    start = time.perf_counter()
    measure_from, stop_at = start + warmup_s, start + warmup_s + seconds
    min_requests = 3 * clients  # slow models run longer, so that every point has a few batches

    def more() -> bool:
        return time.perf_counter() < stop_at or len(latencies) < min_requests

    async def client_loop(http: aiohttp.ClientSession) -> None:
        while more():
            now = time.perf_counter()
            i = next(counter) % len(texts)
            body: dict[str, Any] = {"text": texts[i], "model": model}
            if caps is not None:
                body["max_length"] = caps[i]
            async with http.post("/v1/translate", json=body) as response:
                response.raise_for_status()
                answer = await response.json()
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)
                queued.append(float(answer["timings"]["queue_ms"]))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as http:
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
    elapsed = time.perf_counter() - measure_from
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(ordered), "seconds": round(elapsed, 2),
            "sentences_per_s": round(len(ordered) / elapsed, 2),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1),
            "queue_p50_ms": round(statistics.median(queued), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--student", type=Path, default=None, help="trained student checkpoint (default: random)")
    p.add_argument("--teacher", type=Path, default=None, help="teacher model folder (default: the reference teacher)")
    p.add_argument("--test-tsv", type=Path, default=None, help="test TSV (default: the bundled corpus's)")
    p.add_argument("--bleu-sentences", type=int, default=500, help="first N test verses for BLEU")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per model and client count")
    p.add_argument("--clients", default="1,8,32", help="comma-separated client counts")
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="gateway CPU threads per model (default: half the cores; the clients need the rest)")
    p.add_argument("--out", type=Path, default=REPO / "bench/results/gateway.json")
    p.add_argument("--label", default="", help="what this run measures (recorded in the results), e.g. a code version")
    p.add_argument("--no-docs", action="store_true",
                   help="write only --out, not the table in docs/gateway.md and the plot (e.g. a baseline run)")
    args = p.parse_args(argv)
    if args.teacher is None or args.test_tsv is None:
        # Imported here: bench/gateway_batching.py runs this file against older revisions, which pass both
        # paths and may predate s2s.shared.
        from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared

        args.teacher = args.teacher or in_shared(REFERENCE_TEACHER)
        args.test_tsv = args.test_tsv or in_shared(BIBLE / "test.tsv")
    pairs = read_corpus(args.test_tsv).pairs[: args.bleu_sentences]
    sources, refs = [x.src for x in pairs], [x.tgt for x in pairs]
    tok = Tokenizer(args.teacher)
    results: dict[str, Any] = {"models": {}, "setup": _setup(args, len(pairs))}
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        trained = prepare_models(models, args.student, args.teacher)
        results["setup"]["student_trained"] = trained
        with gateway(models, args.threads) as url:
            listed = {m["id"]: m for m in httpx.get(url + "/v1/models").json()["models"]}
            teacher_out = translate_all(url, "teacher-pytorch", sources, None)
            caps = None if trained else [len(tok.encode_target(t)) for t in teacher_out]
            for model in ("student-int8", "teacher-int8", "teacher-pytorch"):
                print(f"{model}: BLEU on {len(sources)} verses ...", flush=True)
                out = teacher_out if model == "teacher-pytorch" else translate_all(
                    url, model, sources, caps if model == "student-int8" else None)
                entry = {"backend": listed[model]["backend"], "quantization": listed[model]["quantization"],
                         "parameters": listed[model]["parameters"], "size_bytes": listed[model]["size_bytes"],
                         "bleu": round(score_corpus(out, refs).bleu, 2),
                         "trained": trained or not model.startswith("student"), "load": []}
                for clients in [int(c) for c in args.clients.split(",")]:
                    row = asyncio.run(load_test(url, model, sources, caps if model == "student-int8" else None,
                                                clients, args.seconds))
                    print(f"  {clients:2d} clients: {row}", flush=True)
                    entry["load"].append(row)
                results["models"][model] = entry
    results["setup"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    _finish(results, args.out, docs=not args.no_docs)
    return 0


def _setup(args: argparse.Namespace, sentences: int) -> dict[str, Any]:
    return {"teacher": str(args.teacher), "student": str(args.student) if args.student else "random student-tiny",
            "test_set": str(args.test_tsv), "bleu_sentences": sentences, "seconds_per_point": args.seconds,
            "cpu_count": os.cpu_count(), "threads": args.threads, "machine": platform.machine(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load_average_at_start": round(os.getloadavg()[0], 2), "label": args.label,
            "decoding": "greedy, one sentence per request, gateway max_batch 32, max_wait 5 ms"}


def _finish(results: dict[str, Any], out: Path, docs: bool = True) -> None:
    models = results["models"]
    best = {m: max(r["sentences_per_s"] for r in e["load"]) for m, e in models.items()}
    results["speedup_student_int8_vs_teacher_pytorch"] = round(best["student-int8"] / best["teacher-pytorch"], 2)
    results["single_client_p50_speedup_student_int8_vs_teacher_int8"] = round(
        _p50(models["teacher-int8"], 1) / _p50(models["student-int8"], 1), 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if docs:
        write_table(results, REPO / "docs/gateway.md")
        write_plot(results, REPO / "docs/img/gateway-speed-bleu.png")
    print(f"speed-up of the int8 student over the PyTorch teacher: "
          f"{results['speedup_student_int8_vs_teacher_pytorch']}x; one client, p50 of the int8 teacher over the "
          f"int8 student: {results['single_client_p50_speedup_student_int8_vs_teacher_int8']}x; results in {out}")


def _p50(entry: dict[str, Any], clients: int) -> float:
    """The median latency of `entry` at `clients` clients (the first point when that level was not run)."""
    rows = [r for r in entry["load"] if r["clients"] == clients] or entry["load"][:1]
    return float(rows[0]["p50_ms"])


def write_table(results: dict[str, Any], doc: Path) -> None:
    """Replace the benchmark block of `doc` (between the bench markers) with a Markdown table."""
    levels = [r["clients"] for r in next(iter(results["models"].values()))["load"]]
    head = ["model", "backend", "weights", "parameters", "size", "BLEU",
            *[f"{c} client{'s' * (c > 1)}: sent/s (p50 / p99 ms)" for c in levels]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, e in results["models"].items():
        bleu = f"{e['bleu']:.2f}" if e["trained"] else f"untrained ({e['bleu']:.2f})"
        load = [f"{r['sentences_per_s']:.1f} ({r['p50_ms']:.0f} / {r['p99_ms']:.0f})" for r in e["load"]]
        lines.append("| " + " | ".join([name, e["backend"], e["quantization"], f"{e['parameters'] / 1e6:.2f} M",
                                         f"{e['size_bytes'] / 1e6:.1f} MB", bleu, *load]) + " |")
    setup = results["setup"]
    lines += ["", f"Speed-up of the int8 student over the PyTorch teacher (best throughput): "
              f"**{results['speedup_student_int8_vs_teacher_pytorch']}×**. BLEU on the first "
              f"{setup['bleu_sentences']} verses of the test set; {setup['decoding']}; {setup['cpu_count']} CPU "
              f"cores shared by the gateway and the load generator (load average {setup['load_average_at_start']} "
              f"when the run started); {setup['date']}."]
    text = doc.read_text(encoding="utf-8")
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    doc.write_text(text[:start] + "\n" + "\n".join(lines) + "\n" + text[end:], encoding="utf-8")


def write_plot(results: dict[str, Any], path: Path) -> None:
    """Throughput (32 clients, log scale) against BLEU, one point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, e in results["models"].items():
        speed = max(r["sentences_per_s"] for r in e["load"])
        ax.scatter(speed, e["bleu"], s=60, marker="o" if e["trained"] else "x")
        label = name if e["trained"] else f"{name} (untrained)"
        ax.annotate(label, (speed, e["bleu"]), textcoords="offset points", xytext=(6, 6), fontsize=9)
    speeds = [max(r["sentences_per_s"] for r in e["load"]) for e in results["models"].values()]
    ax.set_xscale("log")
    ax.set_xlim(min(speeds) / 2, max(speeds) * 4)
    ax.set_ylim(-2, max(e["bleu"] for e in results["models"].values()) + 6)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("sentences / s through the gateway (best of 1, 8, 32 clients)")
    ax.set_ylabel(f"BLEU ({results['setup']['bleu_sentences']} test verses)")
    ax.set_title("Gateway: speed vs quality")
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
