#!/usr/bin/env bash
# Complexity and faithfulness (kd data-stats) of the real training set and of its distilled versions made by
# experiments/protocol (Seq-KD, Seq-Inter by sentence BLEU, Seq-Inter by sentence chrF), whole training set.
# Usage: bash experiments/data_stats/run.sh   (after the protocol's stage 1 made runs/protocol/data/seq-full)
# Writes runs/data_stats/*.json and prints a Markdown table; about 30 minutes of one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRAIN=../shared/data/bible-es-en/train.tsv
SEQ=runs/protocol/data/seq-full
OUT=runs/data_stats
mkdir -p "$OUT"
.venv/bin/kd data-stats --data "$TRAIN" --json "$OUT/raw.json" | tee "$OUT/raw.log"
for name in seq_kd seq_inter seq_inter_chrf; do
  .venv/bin/kd data-stats --data "$SEQ/$name.tsv" --reference "$TRAIN" --json "$OUT/$name.json" | tee "$OUT/$name.log"
done
.venv/bin/python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| corpus | C(d), nats | C(d) frequency-weighted | F(d) vs real, nats | F(d) frequency-weighted |")
print("| --- | --- | --- | --- | --- |")
for name in ("raw", "seq_kd", "seq_inter", "seq_inter_chrf"):
    s = json.loads((out / f"{name}.json").read_text())
    f = "–" if s["faithfulness"] is None else f"{s['faithfulness']:.4f}"
    fw = "–" if s["faithfulness_weighted"] is None else f"{s['faithfulness_weighted']:.4f}"
    print(f"| {name} | {s['complexity']:.4f} | {s['complexity_weighted']:.4f} | {f} | {fw} |")
PY
