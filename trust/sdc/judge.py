"""Judging each aggregate cell on its own, shared by both ways of publishing (``protect``).

``cell_stats`` reads, per row, what each rule needs of one output column from the companion
columns; ``judge`` applies the primary rules and keeps the most severe verdict; ``linked_statistics``
hides what a row's other statistics would give back (a sum beside its average and count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from trust.sdc.cells import KINDS, OK, CellStats, Finding, Kind, Parameters
from trust.sdc.differencing import Population
from trust.sdc.min_units import min_units
from trust.sdc.plan import Companions, OutputSpec, ProtectionPlan
from trust.sdc.primary import primary
from trust.sdc.report import CellStatus, DisclosureReport
from trust.sdc.zeros import zeros

SECONDARY = "secondary"
SEVERITY = {CellStatus.OK: 0, CellStatus.REVIEW: 1, CellStatus.SUPPRESSED: 2}
Cell = tuple[int, str]  # (row, column)


@dataclass(frozen=True)
class Protected:
    table: pa.Table  # visible columns only; suppressed cells are null
    suppressed: tuple[tuple[bool, ...], ...]  # per visible column, per row
    report: DisclosureReport
    populations: tuple[Population, ...] = ()  # shown cells' populations, for ``differencing.record``
    scheme: str = ""  # the populations' sketch scheme


def row_units(raw: pa.Table, columns: Sequence[str]) -> list[int | None]:
    """Per row, the smallest non-empty unit count among ``columns`` (every dataset, every part)."""
    units_cols = [raw.column(name).to_pylist() for name in columns if name in raw.column_names]
    return [min((u[i] for u in units_cols if u[i] is not None), default=None) for i in range(raw.num_rows)]


def cell_stats(
    raw: pa.Table,
    plan: ProtectionPlan,
    companions: Companions | None,
    position: int,
    values: list[Any],
    units: list[int | None],
) -> list[list[CellStats]]:
    """Per row, the statistics each rule sees for the output column at ``position``."""
    function = plan.outputs[position].function or "count"
    mine = [c for c in companions.contributions if c.position == position] if companions is not None else []
    if not mine:
        # No per-unit figures: a magnitude without them goes to review (unless companions are absent altogether).
        measured = companions is None or KINDS.get(function, Kind.FREQUENCY) is not Kind.MAGNITUDE
        return [[CellStats(function, v, u, measured=measured)] for v, u in zip(values, units)]
    n = raw.num_rows
    per_row: list[list[CellStats]] = [[] for _ in range(n)]
    for c in mine:
        top = raw.column(c.top).to_pylist()
        total = raw.column(c.total).to_pylist() if c.total else [None] * n
        negative = raw.column(c.negative).to_pylist() if c.negative else [False] * n
        contributors = raw.column(c.contributors).to_pylist() if c.contributors else [None] * n
        magnitude = KINDS.get(c.function) is Kind.MAGNITUDE
        fn = c.function if magnitude else function
        for r in range(n):
            if c.unit and top[r] is None:
                continue  # this row's branch reads no unit of that other kind: nothing more to judge
            per_row[r].append(
                CellStats(
                    fn,
                    values[r],
                    units[r],
                    tuple(top[r] or ()),
                    total[r],
                    bool(negative[r]),
                    contributors[r] if magnitude else None,
                    top[r] is not None,
                )
            )
    return per_row


def judge(cells: list[CellStats], params: Parameters, *, legacy: bool = False) -> tuple[Finding, CellStats]:
    if legacy:  # no companion statistics: the rules that need none
        verdicts = [(zeros(c, params) or min_units(c, params) or OK, c) for c in cells]
    else:
        verdicts = [(primary(c, params), c) for c in cells]
    return max(verdicts, key=lambda v: SEVERITY[v[0].status])


def figures(cell: CellStats, found: Finding, params: Parameters) -> dict[str, Any]:
    figures: dict[str, Any] = {"units": cell.units}
    if cell.kind is Kind.MAGNITUDE and cell.top:
        share = cell.dominance_share(params.dominance_n)
        ratio = cell.p_ratio()
        figures.update(
            dominance_share=None if share is None else round(share, 6),
            p_ratio=None if ratio is None else round(ratio, 6),
            negative=cell.negative,
        )
    figures.update(found.figures)
    return figures


def restore_type(value: Any, like: Any) -> Any:
    if isinstance(like, Decimal) and value is not None and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value


def linked_statistics(
    findings: dict[Cell, Finding], outputs: Sequence[OutputSpec], positions: Sequence[int], n: int
) -> bool:
    """Hide what a row's other statistics would give back; True if anything new was hidden.

    A sum and an average of one measure are hidden together (one is the other times the
    count); a hidden count is not left recoverable as a visible sum over a visible average.
    """
    changed = False
    measures: dict[tuple[str, ...], list[int]] = {}
    for i in positions:
        if outputs[i].function in ("sum", "avg"):
            measures.setdefault(tuple(outputs[i].lineage), []).append(i)
    counts = [i for i in positions if (outputs[i].function or "count") == "count"]

    def hide(r: int, i: int, why: str) -> None:
        nonlocal changed
        cell = (r, outputs[i].name)
        if findings[cell].status is CellStatus.OK:
            findings[cell] = Finding(CellStatus.SUPPRESSED, SECONDARY, why, {})
            changed = True

    for r in range(n):
        for group in measures.values():
            hidden = [i for i in group if findings[(r, outputs[i].name)].status is not CellStatus.OK]
            for i in group:
                if hidden:
                    hide(r, i, f"{outputs[hidden[0]].name} of the same measure is hidden in this row")
            fns = {outputs[i].function for i in group}
            if {"sum", "avg"} <= fns and any(
                findings[(r, outputs[c].name)].status is not CellStatus.OK for c in counts
            ):
                for i in group:
                    if outputs[i].function == "avg":
                        hide(r, i, "the count is hidden in this row; sum / average would give it back")
    return changed
