"""Rounding to a base (e.g. 5), with totals kept consistent.

Inner cells are rounded half-up to the base. A total whose parts are all visible is then set
to the sum of its rounded parts, so a table with margins still adds up; a total with a
hidden part is rounded on its own (its parts cannot be summed by the reader anyway). Only
additive columns (counts and sums) are rounded; averages, medians and extremes are not.

    >>> from trust.sdc.linked import Equation
    >>> eq = Equation((2, "n"), ((0, "n"), (1, "n")), "total")
    >>> rounding({(0, "n"): 12, (1, "n"): 13, (2, "n"): 25}, set(), [eq], 5)
    {(0, 'n'): 10, (1, 'n'): 15, (2, 'n'): 25}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from trust.sdc.linked import Cell, Equation


def round_to(value: Any, base: int) -> Any:
    """Half-up rounding to a multiple of ``base``; ints stay ints."""
    if value is None or base <= 0 or isinstance(value, bool):
        return value
    rounded = base * math.floor(float(value) / base + 0.5)
    return int(rounded) if isinstance(value, int) else float(rounded)


def rounding(
    values: Mapping[Cell, Any], hidden: set[Cell], equations: Sequence[Equation], base: int
) -> dict[Cell, Any]:
    """Rounded values of ``values`` (additive cells only); hidden cells are left as they are."""
    if base <= 0:
        return dict(values)
    totals = {eq.total for eq in equations}
    out: dict[Cell, Any] = {}
    for cell, value in values.items():
        if cell not in totals or cell in hidden:
            out[cell] = value if cell in hidden else round_to(value, base)
    pending = sorted(
        (eq for eq in equations if eq.total in values and eq.total not in hidden),
        key=lambda e: sum(1 for p in e.parts if p in totals),
    )
    for _ in range(len(pending) + 1):
        progressed = False
        for eq in pending:
            if eq.total in out:
                continue
            parts = [p for p in eq.parts]
            if all(p in out and p not in hidden and out[p] is not None for p in parts):
                total = sum(out[p] for p in parts)
                original = values[eq.total]
                out[eq.total] = int(total) if isinstance(original, int) else float(total)
                progressed = True
        if not progressed:
            break
    for cell, value in values.items():
        out.setdefault(cell, round_to(value, base))
    return out
