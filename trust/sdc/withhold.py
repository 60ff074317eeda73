"""Rows drawn from fewer than the minimum number of units are withheld, not shown as ``[c]``.

A row whose cells are all suppressed still shows its group keys, and its presence answers a
question about a small group: ``WHERE la_code = 'E06000053' AND award_amount > X GROUP BY la_code``
returns a row only if one of the three claimants there gets more than X, so repeated queries
would find their awards; ``GROUP BY la_code, sex, age_band, claim_start`` would list who claims.
Withholding the row makes "no one" and "one to nine people" look the same. The withheld rows
stay in the checkers' notes (inside the trust) and count as suppressed for secondary suppression,
which ran before this step. Cells suppressed for other reasons (dominance, p%, secondary) stay
as ``[c]`` in rows that are shown.
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from trust.sdc.min_units import RULE as MIN_UNITS
from trust.sdc.protect import Protected
from trust.sdc.report import CellReport


def _small(cell: CellReport, threshold: int) -> bool:
    """The row behind this cell has too few units. (A sum with few non-zero contributors in a large
    row is a small cell, shown as [c]; the row's presence says nothing about a small group.)"""
    return cell.rule == MIN_UNITS and (cell.units is None or cell.units < threshold)


def withhold(protected: Protected) -> Protected:
    """The protected output without rows drawn from fewer than the minimum units."""
    report = protected.report
    small = sorted({c.row for c in report.cells if _small(c, report.parameters.min_units)})
    if not small:
        return protected
    keep = [r for r in range(protected.table.num_rows) if r not in set(small)]
    renumber = {old: new for new, old in enumerate(keep)}
    table = protected.table.take(pa.array(keep, type=pa.int64()))
    suppressed = tuple(tuple(col[r] for r in keep) for col in protected.suppressed)
    cells = tuple(dataclasses.replace(c, row=renumber[c.row]) for c in report.cells if c.row in renumber)
    keys = [c for c in protected.table.column_names if not any(cell.column == c for cell in report.cells)]
    described = []
    for r in small:
        label = ", ".join(f"{k}={protected.table.column(k)[r].as_py()!r}" for k in keys) or "the whole result"
        units = next((c.units for c in report.cells if c.row == r), None)
        described.append(f"{label} ({units} units)")
    note = f"{len(small)} row(s) withheld for fewer than {report.parameters.min_units} units: " + "; ".join(described)
    populations = tuple(dataclasses.replace(p, row=renumber[p.row]) for p in protected.populations if p.row in renumber)
    return dataclasses.replace(
        protected,
        populations=populations,
        table=table,
        suppressed=suppressed,
        report=dataclasses.replace(
            report, cells=cells, notes=tuple(report.notes) + (note,), withheld=report.withheld + len(small)
        ),
    )
