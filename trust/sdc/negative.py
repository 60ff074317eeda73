"""Negative contributions: dominance and p% are undefined when a unit contributes less than
zero (a refund, a loss), so the cell goes to an output checker (ACRO does the same).

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> negative(CellStats("sum", 5.0, 12, top=(9.0,), total=5.0, negative=True), Parameters()).status.value
    'review'
"""

from __future__ import annotations

from trust.sdc.cells import CellStats, Finding, Kind, Parameters
from trust.sdc.report import CellStatus

RULE = "negative"


def negative(cell: CellStats, params: Parameters) -> Finding | None:
    """Review when a magnitude cell has a negative per-unit contribution."""
    if cell.kind is not Kind.MAGNITUDE or not cell.negative:
        return None
    return Finding(
        CellStatus.REVIEW,
        RULE,
        "a unit's contribution is negative; dominance cannot be judged",
        {"units": cell.units, "total": cell.total},
    )
