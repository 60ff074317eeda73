"""Minimum units per cell: a cell drawn from fewer than ``min_units`` people (or businesses) is
suppressed. A cell of exactly ``min_units`` passes (ONS SRS, ACRO ``safe_threshold``).

For a sum or an average the units that count are those contributing a non-zero amount:
``sum(is_female)`` over 500 people of whom 3 are women is a count of 3.

    >>> from trust.sdc.cells import CellStats, Parameters
    >>> min_units(CellStats("count", 10, 10), Parameters()) is None
    True
    >>> min_units(CellStats("count", 9, 9), Parameters()).detail
    '9 units < 10'
"""

from __future__ import annotations

from trust.sdc.cells import CellStats, Finding, Parameters
from trust.sdc.report import CellStatus

RULE = "min_units"


def min_units(cell: CellStats, params: Parameters) -> Finding | None:
    """Suppressed when fewer than ``params.min_units`` distinct units are behind the cell."""
    units = 0 if cell.units is None else cell.units
    if units < params.min_units:
        return Finding(
            CellStatus.SUPPRESSED,
            RULE,
            f"{units} units < {params.min_units}",
            {"units": units, "threshold": params.min_units},
        )
    if cell.contributors is not None and cell.contributors < params.min_units:
        return Finding(
            CellStatus.SUPPRESSED,
            RULE,
            f"{cell.contributors} units contribute a non-zero amount < {params.min_units}",
            {"units": units, "contributors": cell.contributors, "threshold": params.min_units},
        )
    return None
