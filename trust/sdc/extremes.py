"""min, max, median and quantiles, where policy allows them at all.

A minimum or maximum is one unit's own value. It is published only when at least
``min_units`` units share that value (e.g. a capped amount, a common band), so it singles no
one out; otherwise it is suppressed. A median or quantile is published when the cell passes
the minimum-units rule (checked before this one).

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> extremes(CellStats("max", 900, 40, top=(900, 850)), Parameters()).rule
    'extreme_value'
    >>> extremes(CellStats("max", 500, 40, top=(500,) * 10), Parameters()) is None
    True
"""

from __future__ import annotations

from trust.sdc.cells import CellStats, Finding, Kind, Parameters
from trust.sdc.report import CellStatus

RULE = "extreme_value"


def extremes(cell: CellStats, params: Parameters) -> Finding | None:
    """Suppressed when a min/max is held by fewer than ``min_units`` units."""
    if cell.kind is not Kind.EXTREME:
        return None
    k = params.min_units
    shared = sum(1 for v in cell.top if v == cell.top[0]) if cell.top else 0
    if shared >= k and len(cell.top) >= k:
        return None
    detail = (
        f"the {cell.function} is one unit's value, shared by {shared} unit(s) < {k}"
        if cell.top
        else f"the units sharing the {cell.function} were not computed"
    )
    return Finding(CellStatus.SUPPRESSED, RULE, detail, {"units": cell.units, "shared": shared})
