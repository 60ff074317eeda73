"""The per-cell disclosure report an output checker reads, and its analyst-safe summary."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import Any

from trust.policy.decision import Disclosure

SUPPRESSED_MARKER = "[c]"  # GSS symbol for a confidential (suppressed) value


class CellStatus(enum.StrEnum):
    OK = "ok"
    SUPPRESSED = "suppressed"
    REVIEW = "review"


@dataclass(frozen=True)
class CellReport:
    row: int
    column: str
    status: CellStatus
    rule: str | None = None
    units: int | None = None  # figures for checkers inside the trust only
    detail: str = ""

    def to_json(self, *, figures: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"row": self.row, "column": self.column, "status": self.status.value, "rule": self.rule}
        if figures:
            d.update(units=self.units, detail=self.detail)
        return d


@dataclass(frozen=True)
class DisclosureReport:
    cells: tuple[CellReport, ...]
    parameters: Disclosure

    @property
    def status(self) -> CellStatus:
        statuses = {c.status for c in self.cells}
        if CellStatus.REVIEW in statuses:
            return CellStatus.REVIEW
        return CellStatus.SUPPRESSED if CellStatus.SUPPRESSED in statuses else CellStatus.OK

    def counts(self) -> Counter[str]:
        return Counter(c.status.value for c in self.cells)

    def summary(self) -> str:
        counts = self.counts()
        rules = Counter(c.rule for c in self.cells if c.rule)
        parts = [f"{counts.get(s.value, 0)} {s.value}" for s in CellStatus if counts.get(s.value)]
        why = f" ({', '.join(f'{r}: {n}' for r, n in sorted(rules.items()))})" if rules else ""
        return f"{len(self.cells)} cells: {', '.join(parts) or 'none'}{why}; minimum {self.parameters.min_units} units per cell"

    def to_json(self, *, figures: bool = True) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "summary": self.summary(),
            "parameters": {"min_units": self.parameters.min_units},
            "cells": [c.to_json(figures=figures) for c in self.cells],
        }
