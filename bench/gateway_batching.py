"""Gateway batching before and after: `bench/gateway.py` on an older revision's gateway, then on this one.

    python bench/gateway_batching.py --before-rev daf4240 [--seconds 5]

The older revision is unpacked from git into a temporary folder and run with this checkout's
`bench/gateway.py` (so both runs measure the same way; only the gateway differs), one run after the other
on the same machine. Each run's JSON and log go to bench/results/NAME-{before,after}.json/.log (NAME:
`--name`, default gateway-batching), the comparison (p50/p99 at each client count, throughput, the
single-client student/teacher ratio, the load averages) to bench/results/NAME.json and to the block
between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in docs/gateway.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bench.doc_section import fill_section
from s2s.shared import BIBLE, REFERENCE_TEACHER, in_shared

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench/results"
MODELS = ("student-int8", "teacher-int8")


def run_bench(tree: Path, label: str, name: str, extra: list[str]) -> dict[str, Any]:
    """`bench/gateway.py` of this checkout, importing the gateway (and everything else) from `tree`."""
    out, log = RESULTS / f"{name}.json", RESULTS / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # The unpacked revision has no ../shared beside it (nor, maybe, s2s.shared): this checkout finds it.
    data = ["--teacher", str(in_shared(REFERENCE_TEACHER)), "--test-tsv", str(in_shared(BIBLE / "test.tsv"))]
    cmd = [sys.executable, str(tree / "bench/gateway.py"), "--no-docs", "--label", label, "--out", str(out), *data,
           *extra]
    with log.open("w", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(cmd) + f"  (PYTHONPATH={tree})\n")
        handle.flush()
        subprocess.run(cmd, cwd=tree, env=env, stdout=handle, stderr=subprocess.STDOUT, check=True)
    return dict(json.loads(out.read_text(encoding="utf-8")))


def unpack(rev: str, into: Path) -> Path:
    """The files of `rev` (git archive) in `into`, with this checkout's bench/gateway.py."""
    archive = into / "rev.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "archive", rev], cwd=REPO, stdout=handle, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    shutil.copyfile(REPO / "bench/gateway.py", tree / "bench/gateway.py")
    return tree


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per model and client count: p50, p99 and throughput before and after."""
    rows = []
    for model in MODELS:
        for old, new in zip(before["models"][model]["load"], after["models"][model]["load"], strict=True):
            rows.append({"model": model, "clients": old["clients"],
                         **{f"{k}_{when}": r[k] for when, r in (("before", old), ("after", new))
                            for k in ("p50_ms", "p99_ms", "sentences_per_s", "queue_p50_ms")}})
    key = "single_client_p50_speedup_student_int8_vs_teacher_int8"
    return {"rows": rows, "single_client_ratio_before": before[key], "single_client_ratio_after": after[key],
            "before": before["setup"], "after": after["setup"]}


def write_table(comparison: dict[str, Any], doc: Path, name: str) -> None:
    """Replace the block between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in `doc`."""
    lines = ["| model | clients | p50 ms before → after | p99 ms before → after | sentences/s before → after | "
             "queue ms (p50) before → after |", "| --- | --- | --- | --- | --- | --- |"]
    for r in comparison["rows"]:
        lines.append(f"| {r['model']} | {r['clients']} | {r['p50_ms_before']:.1f} → {r['p50_ms_after']:.1f} | "
                     f"{r['p99_ms_before']:.1f} → {r['p99_ms_after']:.1f} | "
                     f"{r['sentences_per_s_before']:.1f} → {r['sentences_per_s_after']:.1f} | "
                     f"{r['queue_p50_ms_before']:.2f} → {r['queue_p50_ms_after']:.2f} |")
    b, a = comparison["before"], comparison["after"]
    lines += ["", f"One client, p50 of the int8 teacher over the int8 student: "
              f"**{comparison['single_client_ratio_before']}× before, {comparison['single_client_ratio_after']}× "
              f"after**. Before: {b['label']} (run {b['date']}, load average {b['load_average_at_start']} → "
              f"{b['load_average_at_end']}). After: {a['label']} (run {a['date']}, load average "
              f"{a['load_average_at_start']} → {a['load_average_at_end']}). Student: {a['student']}; "
              f"{a['cpu_count']} CPU cores shared with the load generator and with other work on the machine."]
    fill_section(doc, name, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before-rev", required=True, help="git revision of the gateway to compare with")
    p.add_argument("--before-label", default="the batch waits up to max_wait_ms for company, also when idle")
    p.add_argument("--after-label", default="a lone request goes at once; waits for the previous batch's "
                                            "requests and those queued behind it")
    p.add_argument("--name", default="gateway-batching", help="file name stem of the results in bench/results")
    p.add_argument("--table-only", action="store_true", help="re-tabulate the last two runs' JSON without running")
    args, extra = p.parse_known_args(argv)
    if args.table_only:
        before, after = (json.loads((RESULTS / f"{args.name}-{n}.json").read_text()) for n in ("before", "after"))
    else:
        with tempfile.TemporaryDirectory(prefix="kd-bench-rev-") as tmp:
            tree = unpack(args.before_rev, Path(tmp))
            before = run_bench(tree, f"{args.before_rev}: {args.before_label}", f"{args.name}-before", extra)
        after = run_bench(REPO, f"this checkout: {args.after_label}", f"{args.name}-after", extra)
    comparison = compare(before, after)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    write_table(comparison, REPO / "docs/gateway.md", args.name)
    print(json.dumps({k: v for k, v in comparison.items() if k.startswith("single")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
