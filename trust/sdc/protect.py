"""Stage 8: disclosure control on the raw result, using the companion unit counts.

Group-key cells stay visible; each aggregate cell that fails a rule is replaced by null in the
protected table (shown as ``[c]``) and recorded, with its figures, in the report. Companion
columns never leave this function.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from trust.errors import DisclosureBlocked
from trust.policy.decision import Disclosure
from trust.sdc.min_units import RULE as MIN_UNITS, min_units
from trust.sdc.report import CellReport, CellStatus, DisclosureReport
from trust.sql.rewrite import Plan


@dataclass(frozen=True)
class Protected:
    table: pa.Table  # visible columns only; suppressed cells are null
    suppressed: tuple[tuple[bool, ...], ...]  # per visible column, per row
    report: DisclosureReport


def _round(value: object, base: int) -> object:
    if value is None or base <= 0 or not isinstance(value, (int, float)):
        return value
    rounded = base * round(float(value) / base)
    return int(rounded) if isinstance(value, int) else float(rounded)


def protect(raw: pa.Table, plan: Plan, disclosure: Disclosure, *, max_rows: int) -> Protected:
    """Apply minimum-units suppression (and optional rounding) to every aggregate cell."""
    if raw.num_rows > max_rows:
        raise DisclosureBlocked(
            f"The result has {raw.num_rows} rows; the limit is {max_rows}. Group by fewer or coarser dimensions.",
            rows=raw.num_rows,
        )
    units_cols = [raw.column(name).to_pylist() for name in plan.unit_columns]
    row_units = [
        min((u[i] for u in units_cols if u[i] is not None), default=None) for i in range(raw.num_rows)
    ]
    cells: list[CellReport] = []
    columns: list[pa.Array] = []
    masks: list[tuple[bool, ...]] = []
    for out in plan.outputs:
        values = raw.column(out.name).to_pylist()
        typ = raw.schema.field(out.name).type
        if out.kind != "aggregate":
            columns.append(pa.array(values, type=typ))
            masks.append(tuple(False for _ in values))
            continue
        protected, mask = [], []
        for i, value in enumerate(values):
            safe = min_units(row_units[i], disclosure.min_units)
            status = CellStatus.OK if safe else CellStatus.SUPPRESSED
            cells.append(CellReport(
                row=i, column=out.name, status=status, rule=None if safe else MIN_UNITS, units=row_units[i],
                detail="" if safe else f"{row_units[i]} units < {disclosure.min_units}",
            ))
            protected.append(_round(value, disclosure.rounding_base) if safe else None)
            mask.append(not safe)
        columns.append(pa.array(protected, type=typ))
        masks.append(tuple(mask))
    table = pa.Table.from_arrays(columns, names=[o.name for o in plan.outputs])
    return Protected(table=table, suppressed=tuple(masks), report=DisclosureReport(tuple(cells), disclosure))
