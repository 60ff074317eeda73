"""Primary disclosure control: each cell judged on its own, by the rules in order.

The first rule with a verdict decides. A zero is judged by the zero rule alone; then minimum
units (a small cell is suppressed whatever else is true of it), negative contributions (review:
dominance is undefined), dominance, p%, and the min/max rule.

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> primary(CellStats("sum", 100.0, 12, top=(95.0, 1.0), total=100.0), Parameters()).rule
    'dominance'
    >>> primary(CellStats("count", 10, 10), Parameters()).status.value
    'ok'
"""

from __future__ import annotations

from collections.abc import Callable

from trust.sdc.cells import OK, CellStats, Finding, Kind, Parameters
from trust.sdc.dominance import dominance
from trust.sdc.extremes import extremes
from trust.sdc.min_units import min_units
from trust.sdc.negative import negative
from trust.sdc.p_percent import p_percent
from trust.sdc.report import CellStatus
from trust.sdc.zeros import zeros

Rule = Callable[[CellStats, Parameters], "Finding | None"]
RULES: tuple[Rule, ...] = (zeros, min_units, negative, dominance, p_percent, extremes)
UNMEASURED = "contributions_unavailable"


def primary(cell: CellStats, params: Parameters) -> Finding:
    """The verdict of the first rule that has one, or ok."""
    if cell.kind is Kind.MAGNITUDE and not cell.measured:
        found = zeros(cell, params) or min_units(cell, params)
        return found or Finding(
            CellStatus.REVIEW,
            UNMEASURED,
            "per-unit contributions could not be computed for this query; a checker must judge it",
            {"units": cell.units},
        )
    for rule in RULES:
        found = rule(cell, params)
        if found is not None:
            return found
    return OK
