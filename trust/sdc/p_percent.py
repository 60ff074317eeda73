"""p% rule: a magnitude cell fails when the units other than the two largest sum to less than
``p`` of the largest, so the second-largest could estimate the largest to within p%:
(total - x1 - x2) / x1 < p (default 10%; exactly 10% passes, as in ACRO).

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> p_percent(CellStats("sum", 120, 12, top=(100, 10), total=120), Parameters()) is None
    True
    >>> p_percent(CellStats("sum", 119, 12, top=(100, 10), total=119), Parameters()).figures["ratio"]
    0.09
"""

from __future__ import annotations

from trust.sdc.cells import CellStats, Finding, Kind, Parameters
from trust.sdc.report import CellStatus

RULE = "p_percent"


def p_percent(cell: CellStats, params: Parameters) -> Finding | None:
    """Suppressed when (total - x1 - x2) / x1 < p."""
    if cell.kind is not Kind.MAGNITUDE:
        return None
    if not cell.p_fails(params.p_percent):
        return None
    ratio = cell.p_ratio() or 0.0
    return Finding(
        CellStatus.SUPPRESSED,
        RULE,
        f"the others sum to {ratio:.1%} of the largest unit's contribution, < {params.p_percent:.0%}",
        {"units": cell.units, "ratio": round(ratio, 6), "p": params.p_percent},
    )
