"""What label smoothing left in the teacher's distributions: how much a word-level KD target can carry.

    python -m experiments.protocol.teacher_stats [--sentences 400]

On the first validation verses under teacher forcing: the teacher's mean probability of its top-1 token and
of the reference token, the mass outside its top-8 (what Word-KD's tail bucket and KA's rest term see), the
mean entropy, and the mass spread thinly over the vocabulary (tokens below 0.001 each), where label
smoothing puts about ε of its training target. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

from experiments.protocol.plan import DATA, TEACHER
from s2s.batching import length_sorted_batches
from s2s.checkpoint import load_checkpoint
from s2s.corpus import read_corpus
from student_trainer.batches import Batch, forward_logits, to_tensors


@torch.inference_mode()
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=400)
    args = parser.parse_args()
    ckpt = load_checkpoint(TEACHER)
    tok = ckpt.tokenizer
    pairs = read_corpus(DATA / "valid.tsv").pairs[: args.sentences]
    src = [tok.encode_source(p.src, 128) for p in pairs]
    tgt = [tok.encode_target(p.tgt, 128) for p in pairs]
    sums = {"top1": 0.0, "reference": 0.0, "outside_top8": 0.0, "entropy": 0.0, "diffuse": 0.0}
    positions = 0
    for group in length_sorted_batches([max(len(s), len(t)) for s, t in zip(src, tgt, strict=True)], 2048):
        t = to_tensors(Batch([src[i] for i in group], [tgt[i] for i in group]), tok.pad_id)
        logq = F.log_softmax(forward_logits(ckpt.model, t).float(), -1)[t.target_mask]
        q = logq.exp()
        top = q.topk(8, -1).values
        sums["top1"] += float(top[:, 0].sum())
        sums["reference"] += float(q.gather(-1, t.labels[t.target_mask].unsqueeze(-1)).sum())
        sums["outside_top8"] += float((1 - top.sum(-1)).sum())
        sums["entropy"] += float(-(q * logq).sum())
        sums["diffuse"] += float((q * (q < 1e-3)).sum())
        positions += q.shape[0]
    print(f"| teacher, {len(pairs)} validation verses, {positions} positions | value |\n| --- | --- |")
    for key, label in (("top1", "mean probability of its top-1 token"),
                       ("reference", "mean probability of the reference token"),
                       ("outside_top8", "mean mass outside its top-8"),
                       ("entropy", "mean entropy (nats)"),
                       ("diffuse", "mean mass on tokens of probability below 0.001 (the diffuse tail)")):
        print(f"| {label} | {sums[key] / positions:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
