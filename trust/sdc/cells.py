"""The frozen values disclosure rules work on: one cell's statistics, the parameters, a finding.

Rules are pure functions ``rule(cell, parameters) -> Finding | None`` over these values, so
they are tested from worked examples without an engine (``tests/sdc/cases``).

    >>> cell = CellStats(function="sum", value=100.0, units=12, top=(60.0, 30.0), total=100.0)
    >>> cell.kind, cell.dominance_share(2), cell.dominated(2, 0.9)
    (<Kind.MAGNITUDE: 'magnitude'>, 0.9, True)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from trust.sdc.parameters import Parameters
from trust.sdc.report import CellStatus

__all__ = ["KINDS", "OK", "CellStats", "Finding", "Kind", "Parameters", "at_least", "exact"]


class Kind(enum.StrEnum):
    FREQUENCY = "frequency"  # count, count(DISTINCT ...)
    MAGNITUDE = "magnitude"  # sum, avg: judged on their sum's per-unit contributions
    EXTREME = "extreme"  # min, max: one unit's own value
    QUANTILE = "quantile"  # median, quantiles


KINDS = {
    "count": Kind.FREQUENCY,
    "sum": Kind.MAGNITUDE,
    "avg": Kind.MAGNITUDE,
    "min": Kind.EXTREME,
    "max": Kind.EXTREME,
    "median": Kind.QUANTILE,
    "quantile": Kind.QUANTILE,
}


def exact(value: float | int | str) -> Fraction:
    """Exact arithmetic, so a cell at exactly 90% dominance is judged at 90%, not 90.00000000000001%."""
    return Fraction(str(value)) if isinstance(value, (float, str)) else Fraction(value)


def at_least(left: Sequence[Any], factor: float, right: Any) -> bool:
    """sum(left) >= factor * right, decided in floating point unless it is too close to call."""
    lhs, rhs = float(sum(left)), factor * float(right)
    if abs(lhs - rhs) > 1e-9 * max(1.0, abs(lhs), abs(rhs)):
        return lhs > rhs
    return sum((exact(x) for x in left), Fraction(0)) >= exact(factor) * exact(right)


@dataclass(frozen=True)
class CellStats:
    """What the trust knows about one aggregate cell, computed from the rows inside the trust."""

    function: str  # count | sum | avg | min | max | median | quantile
    value: Any  # the cell's value before protection
    units: int | None  # distinct units (people, businesses) behind the cell
    top: tuple[
        Any, ...
    ] = ()  # sum/avg: largest per-unit contributions, largest first; min/max: most extreme per-unit values
    total: float | None = None  # sum/avg: the sum of all per-unit contributions
    negative: bool = False  # sum/avg: some unit's contribution is below zero
    contributors: int | None = None  # sum/avg: units whose contribution is not zero
    measured: bool = True  # False when the per-unit figures could not be computed

    @property
    def kind(self) -> Kind:
        return KINDS.get(self.function, Kind.FREQUENCY)

    def dominance_share(self, n: int) -> float | None:
        """Share of the total held by the ``n`` largest contributions (for the report)."""
        if self.total is None or self.total <= 0:
            return None
        return float(sum(self.top[:n])) / float(self.total)

    def dominated(self, n: int, k: float) -> bool:
        """The ``n`` largest contributions hold ``k`` or more of the total (exactly k counts)."""
        return self.total is not None and self.total > 0 and at_least(self.top[:n], k, self.total)

    def p_ratio(self) -> float | None:
        """(total - x1 - x2) / x1: how well the second-largest unit could estimate the largest."""
        if self.total is None or not self.top or self.top[0] <= 0:
            return None
        x2 = self.top[1] if len(self.top) > 1 else 0
        return (float(self.total) - float(self.top[0]) - float(x2)) / float(self.top[0])

    def p_fails(self, p: float) -> bool:
        """(total - x1 - x2) < p * x1, i.e. x1 + x2 + p * x1 > total; exactly p passes."""
        if self.total is None or not self.top or self.top[0] <= 0:
            return False
        x2 = self.top[1] if len(self.top) > 1 else 0
        return not at_least((self.total, -self.top[0], -x2), p, self.top[0])


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on a cell: the status, the rule, and the figures it used (checkers only)."""

    status: CellStatus
    rule: str | None = None
    detail: str = ""
    figures: Mapping[str, Any] = field(default_factory=dict)


OK = Finding(CellStatus.OK)
