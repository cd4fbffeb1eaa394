"""Counting what happened to the rows of one split: read, kept, dropped per reason, with example locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s2s.data_import.records import Reason

EXAMPLES_PER_REASON = 3


@dataclass
class Tally:
    """The rows of one split: how many were read, kept and dropped (per reason), and where a few drops were."""

    read: int = 0
    """Rows read from this split's own file (for a split cut from `--data`, the rows are counted under train)."""
    kept: int = 0
    dropped: dict[Reason, int] = field(default_factory=dict)
    examples: dict[Reason, list[str]] = field(default_factory=dict)

    def drop(self, reason: Reason, location: str, detail: str = "") -> None:
        """Count one dropped row; remember its location among the first few of its reason."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < EXAMPLES_PER_REASON:
            shown.append(f"{location} ({detail})" if detail else location)

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def top_reasons(self, n: int = 3) -> list[tuple[Reason, int]]:
        """The `n` commonest reasons, commonest first."""
        return sorted(self.dropped.items(), key=lambda item: (-item[1], list(Reason).index(item[0])))[:n]

    def describe_drops(self, n: int = 3) -> str:
        """E.g. `5 malformed row (e.g. c.tsv:3 (2 columns, the header has 3)), 2 empty side (e.g. c.tsv:7)`."""
        return ", ".join(f"{count} {reason.label} (e.g. {self.examples[reason][0]})"
                         for reason, count in self.top_reasons(n))

    def as_json(self) -> dict[str, Any]:
        return {"read": self.read, "kept": self.kept,
                "dropped": {r.value: self.dropped[r] for r in Reason if r in self.dropped},
                "examples": {r.value: self.examples[r] for r in Reason if r in self.examples}}
