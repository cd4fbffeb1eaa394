"""The picture behind `pooled.py`'s run-level tests: every paired run's BLEU difference, as a dot.

The sign-flip test in the pooled table asks whether the run-level differences (a row minus its baseline,
paired by base and seed) lean one way more than chance would make them. A column of dots shows the same
thing at a glance: how many pairs there are, how many sit above zero, how far apart the bases fall. One
panel per decoding; one column per comparison (a row against its own base, the control or Word-KD); one
colour per base; a bar at the mean.
"""

from __future__ import annotations

from pathlib import Path

from experiments.protocol.table import DECODINGS, LABELS
from experiments.run_records import RunRecord

Key = tuple[str, str]  # (base, seed), e.g. ("nll-1k", "2")
Pairs = dict[str, list[tuple[Key, float]]]  # decoding -> [((base, seed), system minus baseline)]
SHORT = {"own base": "base", "control": "control", "Word-KD": "Word-KD"}
TITLES = {"greedy": "greedy", "beam5": "beam 5"}


def pair_differences(system: dict[Key, RunRecord], baseline: dict[Key, RunRecord]) -> Pairs:
    """Per decoding, system minus baseline BLEU for every (base, seed) both have scored, in key order."""
    keys = sorted(system.keys() & baseline.keys())
    return {d: [(k, a - b) for k in keys
                if (a := system[k].bleu(d)) is not None and (b := baseline[k].bleu(d)) is not None]
            for d in DECODINGS}


def comparisons(runs: dict[str, dict[Key, RunRecord]], starts: dict[str, RunRecord],
                baselines: dict[str, str]) -> dict[str, Pairs]:
    """Every row with runs against its own base and against each baseline row (`baselines`: label -> row,
    in order), by column label ("KA − Word-KD"); empty comparisons are left out."""
    found: dict[str, Pairs] = {}
    for row, mine in runs.items():
        own = {key: starts[key[0]] for key in mine if key[0] in starts}
        versus = {"own base": own, **{label: runs.get(other, {}) for label, other in _earlier(baselines, row)}}
        for label, theirs in versus.items():
            pairs = pair_differences(mine, theirs)
            if any(pairs.values()):
                found[f"{LABELS[row].split(' (')[0]} − {SHORT.get(label, label)}"] = pairs
    return found


def _earlier(baselines: dict[str, str], row: str) -> list[tuple[str, str]]:
    """The baselines `row` is drawn against: all of them, or for a baseline row only those listed before it
    (Word-KD − control is drawn, its mirror control − Word-KD is not)."""
    rows = list(baselines.values())
    return list(baselines.items())[:rows.index(row)] if row in rows else list(baselines.items())


def plot_pairs(columns: dict[str, Pairs], bases: list[str], path: Path) -> None:
    """Write the dot plot of `columns` to `path` (PNG); nothing is written when there is nothing to show."""
    if not columns:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {base: f"C{i}" for i, base in enumerate(bases)}
    wide = len(columns) > 6  # many columns: one panel per line, so that the labels stay readable
    shape = (len(DECODINGS), 1) if wide else (1, len(DECODINGS))
    size = (max(8.0, 0.75 * len(columns) + 2), 4.2 * len(DECODINGS)) if wide else (3.0 + 2.2 * len(columns), 4.2)
    fig, axes = plt.subplots(*shape, figsize=size, sharey=True, squeeze=False)
    for ax, decoding in zip(axes.flat, DECODINGS, strict=True):
        for x, pairs in enumerate(columns.values()):
            points = pairs[decoding]
            for i, ((base, _), diff) in enumerate(points):
                offset = (bases.index(base) - (len(bases) - 1) / 2) * 0.12 + (i % 3 - 1) * 0.03
                ax.scatter(x + offset, diff, color=colours[base], s=22, zorder=3)
            if points:
                mean = sum(d for _, d in points) / len(points)
                ax.hlines(mean, x - 0.3, x + 0.3, color="black", linewidth=1.5, zorder=4)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(columns)), list(columns), rotation=30, ha="right")
        ax.set_title(f"BLEU {TITLES.get(decoding, decoding)}, paired run differences")
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("BLEU difference (system − baseline)")
    for base in bases:
        axes.flat[-1].scatter([], [], color=colours[base], label=base)
    axes.flat[-1].legend(title="base (dots: seeds; bar: mean)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
