"""The per-cell disclosure report an output checker reads, and its analyst-safe summary.

Each aggregate cell has a status (ok, suppressed, review), the rule that decided it, and the
figures the rule used (units, dominance share, p% ratio, which cell a secondary suppression
protects). The figures are for checkers inside the trust: ``to_json(figures=False)`` is what
an analyst's client receives, and the protected table never carries them.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from trust.sdc.parameters import Parameters

SUPPRESSED_MARKER = "[c]"  # GSS symbol for a confidential (suppressed) value


class CellStatus(enum.StrEnum):
    OK = "ok"
    SUPPRESSED = "suppressed"
    REVIEW = "review"  # withheld from the analyst until an output checker has looked


@dataclass(frozen=True)
class CellReport:
    row: int
    column: str
    status: CellStatus
    rule: str | None = None
    units: int | None = None  # figures for checkers inside the trust only
    detail: str = ""
    figures: Mapping[str, Any] = field(default_factory=dict)
    secondary: bool = False  # suppressed to protect another cell, not for itself

    @property
    def hidden(self) -> bool:
        """Shown as ``[c]`` to the analyst: suppressed, or waiting for review."""
        return self.status is not CellStatus.OK

    def to_json(self, *, figures: bool = True) -> dict[str, Any]:
        """With ``figures=False``, what an analyst may see: where the cell is and whether it is shown,
        suppressed or held for a checker's review; never which rule hid it or why."""
        d: dict[str, Any] = {"row": self.row, "column": self.column, "status": self.status.value}
        if figures:
            d.update(
                rule=self.rule,
                secondary=self.secondary,
                units=self.units,
                detail=self.detail,
                figures=dict(self.figures),
            )
        return d

    def for_analyst(self) -> CellReport:
        return CellReport(self.row, self.column, self.status)


@dataclass(frozen=True)
class DisclosureReport:
    cells: tuple[CellReport, ...]
    parameters: Parameters  # the thresholds that applied
    notes: tuple[str, ...] = ()  # table-level findings for checkers (linked cells found, rounding applied)
    # Rows not shown at all for too few units (trust/sdc/withhold.py). For checkers only: the analyst must not
    # learn whether a small group exists, so this never leaves with ``to_json(figures=False)``.
    withheld: int = field(default=0, repr=False)

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
        rules = Counter(("secondary" if c.secondary else c.rule) for c in self.cells if c.rule)
        parts = [f"{counts.get(s.value, 0)} {s.value}" for s in CellStatus if counts.get(s.value)]
        why = f" ({', '.join(f'{r}: {n}' for r, n in sorted(rules.items()))})" if rules else ""
        noise = self.parameters.noise
        perturbed = f"; every number perturbed (counts by at most {noise.max_deviation})" if noise is not None else ""
        return (
            f"{len(self.cells)} cells: {', '.join(parts) or 'none'}{why}; "
            f"minimum {self.parameters.min_units} units per cell (rows from fewer are not shown){perturbed}"
        )

    def for_analyst(self) -> DisclosureReport:
        """The report as an analyst receives it, from any interface: each cell's status, the public
        thresholds; no rule, unit count, figure, note or count of withheld rows."""
        return DisclosureReport(tuple(c.for_analyst() for c in self.cells), self.parameters.public())

    def to_json(self, *, figures: bool = True) -> dict[str, Any]:
        p = self.parameters
        params: dict[str, Any] = {"min_units": p.min_units}
        if figures:
            params.update(
                dominance={"n": p.dominance_n, "k": p.dominance_k},
                p_percent=p.p_percent,
                rounding_base=p.rounding_base or None,
            )
        out: dict[str, Any] = {
            "status": self.status.value,
            "summary": self.summary(),
            "parameters": params,
            "cells": [c.to_json(figures=figures) for c in self.cells],
        }
        if figures and self.notes:
            out["notes"] = list(self.notes)
        if figures:
            out["withheld"] = self.withheld
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], parameters: Parameters) -> DisclosureReport:
        """A report as ``to_json`` wrote it (with or without the checkers' figures)."""
        known = {f.name for f in fields(CellReport)}
        cells = []
        for c in raw.get("cells", ()):
            extra = {k: c[k] for k in ("figures", "secondary") if k in known and c.get(k) is not None}
            cells.append(
                CellReport(
                    row=int(c["row"]),
                    column=str(c["column"]),
                    status=CellStatus(c["status"]),
                    rule=c.get("rule"),
                    units=c.get("units"),
                    detail=str(c.get("detail") or ""),
                    **extra,
                )
            )
        return cls(
            tuple(cells),
            parameters,
            notes=tuple(str(n) for n in raw.get("notes", ())),
            withheld=int(raw.get("withheld") or 0),
        )

    def mask(self, columns: list[str], rows: int) -> tuple[tuple[bool, ...], ...]:
        """Which cells the analyst sees as ``[c]``, per column and row: every cell not ``ok``."""
        hidden = {(c.column, c.row) for c in self.cells if c.status is not CellStatus.OK}
        return tuple(tuple((name, r) in hidden for r in range(rows)) for name in columns)
