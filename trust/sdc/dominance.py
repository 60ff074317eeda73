"""(n, k) dominance: a magnitude cell fails when its ``n`` largest units hold at least ``k`` of
its total (default top 2 >= 90%; exactly 90% fails, as in ACRO). Contributions are per unit:
one person's many rows are summed first, so they count once.

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> dominance(CellStats("sum", 100, 12, top=(60, 30), total=100), Parameters()).figures["share"]
    0.9
    >>> dominance(CellStats("sum", 100, 12, top=(60, 29), total=100), Parameters()) is None
    True
"""

from __future__ import annotations

from trust.sdc.cells import CellStats, Finding, Kind, Parameters
from trust.sdc.report import CellStatus

RULE = "dominance"


def dominance(cell: CellStats, params: Parameters) -> Finding | None:
    """Suppressed when the top ``n`` units hold ``k`` or more of the cell's total."""
    if cell.kind is not Kind.MAGNITUDE:
        return None
    if len(cell.top) < min(params.dominance_n, cell.units or 0):
        return Finding(
            CellStatus.REVIEW,
            RULE,
            f"the {params.dominance_n} largest contributions were not computed",
            {"units": cell.units},
        )
    if not cell.dominated(params.dominance_n, params.dominance_k):
        return None
    share = cell.dominance_share(params.dominance_n) or 0.0
    return Finding(
        CellStatus.SUPPRESSED,
        RULE,
        f"top {params.dominance_n} units hold {share:.1%} >= {params.dominance_k:.0%} of the total",
        {"units": cell.units, "share": round(share, 6), "n": params.dominance_n, "k": params.dominance_k},
    )
