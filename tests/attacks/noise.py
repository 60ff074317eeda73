"""How far a published number may lie from the true one: the one place the auditor learns it.

The trust publishes its perturbation's bounds with every output (``report.parameters.noise``), as
ONS and ABS publish theirs: a count moves by at most ``max_deviation``; a sum by at most
``(top_share + cell_share * max_deviation) * x1``, where x1 is the cell's largest absolute per-unit
contribution (taken here from ground truth, which can only make the attacker stronger and the audit
sounder). With suppression instead of noise the bound is 0: every shown cell is an equation.
"""

from __future__ import annotations

from typing import Any


def noise_bound(output: Any, column: str, row: int, truth: Any, kind: str = "count") -> float:
    """The most |published - true| can be for ``output``'s cell at (``row``, ``column``).

    ``truth`` is the cell's ``tests.attacks.worlds.CellTruth`` (value, per-unit contributions);
    ``kind`` is the aggregate's (count or sum)."""
    noise = output.report.parameters.noise
    if noise is None:
        return 0.0
    if kind == "count":
        return float(noise.max_deviation)
    largest = max((abs(float(c)) for c in truth.contributions), default=0.0)
    return noise.bound("sum", largest)
