"""What an import did: the counts per split and reason, the columns and files used, as a table and as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s2s.data_import.cleaning import CleaningSettings
from s2s.data_import.columns import ColumnChoice
from s2s.data_import.output import REPORT_FILE, SPLITS, InputDigest
from s2s.data_import.records import Reason
from s2s.data_import.tally import Tally

REPORT_VERSION = 1


@dataclass
class ImportReport:
    """The result of `import_corpus`: where the corpus is and what was kept and dropped, per split and reason.

    `tallies[split]` counts a split's own input file; splits cut from `--data` (`split_off`) read nothing
    themselves: their rows are counted under `train`'s read, so that for train `read = dropped + kept` of all
    the splits it fed.
    """

    out: Path
    src: str
    tgt: str
    format: str
    tallies: dict[str, Tally]
    columns: dict[str, ColumnChoice]
    inputs: list[InputDigest]
    split_off: tuple[str, ...]
    seed: int
    cleaning: CleaningSettings
    format_settings: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    """The `ImportSpec` as JSON (what `import_is_current` compares)."""
    notes: list[str] = field(default_factory=list)

    def rows(self, split: str) -> int:
        """Rows written to `split`.tsv."""
        return self.tallies[split].kept

    def path(self, split: str) -> Path:
        """The TSV of `split` (`train`, `valid` or `test`)."""
        return self.out / f"{split}.tsv"

    def table(self) -> str:
        """Kept and dropped rows per reason and split, as a Markdown table."""
        reasons = [r for r in Reason if any(t.dropped.get(r) for t in self.tallies.values())]
        header = ["rows", *SPLITS, "total"]
        lines: list[list[str]] = []

        def row(name: str, values: list[int | None]) -> None:
            total = sum(v for v in values if v is not None)
            lines.append([name, *("-" if v is None else f"{v:,}" for v in values), f"{total:,}"])

        row("read", [None if s in self.split_off else self.tallies[s].read for s in SPLITS])
        for reason in reasons:
            row(f"dropped: {reason.label}", [None if s in self.split_off else self.tallies[s].dropped.get(reason, 0)
                                             for s in SPLITS])
        row("kept", [self.tallies[s].kept for s in SPLITS])
        widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

        def fmt(cells: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                     for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

        rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
        return "\n".join([fmt(header), rule, *(fmt(r) for r in lines)])

    def summary(self) -> str:
        """The table with what it needs to be read: the files, the columns, the split, examples of drops."""
        lines = [f"imported {self.src}->{self.tgt} ({self.format}) into {self.out}"]
        for split, choice in self.columns.items():
            lines.append(f"  {split}: {choice.describe()}")
        if self.split_off:
            held_out = " and ".join(s for s in SPLITS if s in self.split_off)
            lines.append(f"  {held_out} split off --data by source sentence (seed {self.seed}); their rows are "
                         "counted in train's read")
        lines += [f"  note: {note}" for note in self.notes]
        lines += ["", self.table()]
        examples = [f"  {reason.label} ({split}): {', '.join(t.examples[reason])}"
                    for split, t in self.tallies.items() for reason in Reason if reason in t.examples]
        if examples:
            lines += ["", "examples of dropped rows:", *examples]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """Everything `import.json` records."""
        return {
            "kd_data_import": REPORT_VERSION, "spec": self.spec,
            "src": self.src, "tgt": self.tgt, "format": self.format, "format_settings": self.format_settings,
            "inputs": [i.as_json() for i in self.inputs],
            "columns": {split: c.as_json() for split, c in self.columns.items()},
            "cleaning": asdict(self.cleaning),
            "split": {"seed": self.seed, "split_off": list(self.split_off)},
            "rows": {split: self.tallies[split].kept for split in SPLITS},
            "counts": {split: self.tallies[split].as_json() for split in SPLITS},
            "notes": self.notes,
        }

    def write(self, folder: Path) -> None:
        """Write `import.json` into `folder` (the build folder, before it is renamed into place)."""
        (folder / REPORT_FILE).write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")


def read_import_json(out: Path) -> dict[str, Any] | None:
    """The `import.json` of a corpus folder, or None if it has none (or an unreadable one)."""
    try:
        data = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
