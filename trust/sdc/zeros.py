"""Zero cells. A zero says that no one in the group has the attribute counted (everyone in the
row is in another column): class membership disclosure. With ``zeros_disclosive`` (the
default, as ACRO's ``zeros_are_disclosive``) such cells are suppressed; without it a zero is
published, since nobody contributes to it and the other rules have nothing to judge.

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> zeros(CellStats("count", 0, 0), Parameters()).rule
    'zero'
    >>> zeros(CellStats("count", 0, 0), Parameters(zeros_disclosive=False)).status.value
    'ok'
"""

from __future__ import annotations

from trust.sdc.cells import OK, CellStats, Finding, Kind, Parameters
from trust.sdc.report import CellStatus

RULE = "zero"


def zeros(cell: CellStats, params: Parameters) -> Finding | None:
    """A verdict for a zero count or sum (suppressed, or ok without further rules); None otherwise."""
    if cell.kind not in (Kind.FREQUENCY, Kind.MAGNITUDE) or cell.value is None or cell.value != 0 or cell.negative:
        return None
    if not params.zeros_disclosive:
        return OK
    return Finding(
        CellStatus.SUPPRESSED, RULE, "a zero reveals that no one in this group has the attribute", {"units": cell.units}
    )
