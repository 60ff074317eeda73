"""Minimum units per cell: a cell drawn from fewer than ``min_units`` people (or businesses) is
suppressed. A cell of exactly ``min_units`` passes (ONS SRS, ACRO ``safe_threshold``)."""

from __future__ import annotations

RULE = "min_units"


def min_units(units: int | None, threshold: int) -> bool:
    """True when the cell is safe: at least ``threshold`` distinct units.

    >>> min_units(10, 10), min_units(9, 10), min_units(None, 10)
    (True, False, False)
    """
    return units is not None and units >= threshold
