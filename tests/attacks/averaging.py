"""The averaging attacker, and the consistency it tests.

Noise that is drawn afresh for every query averages away: ask the same cell n times, or spell it n
ways, and the mean's error falls like 1/sqrt(n); combine a table's margins and the error falls
further. This attacker averages every published value of the same cell (the same atoms), then fits
all of them at once by bounded least squares, and reads each protected quantity off the fit, kept
inside the auditor's interval. With exact publication its error is zero wherever the auditor pins a
value; with consistent (cell-key) noise, repeats add nothing.

Separately, ``inconsistencies`` lists cells with the same true population and statistic that were
published with different values: consistent perturbation must never do that.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy.optimize import lsq_linear

from tests.attacks.auditor import Interval, System
from tests.attacks.observe import Fact, Quantity, Response


def estimates(
    system: System, facts: Sequence[Fact], quantities: Sequence[Quantity], intervals: Sequence[Interval]
) -> list[float]:
    """The attacker's best estimate of each quantity."""
    cells: dict[object, list[float]] = defaultdict(list)
    for f in facts:
        if f.published and f.value is not None:
            cells[f.term].append(f.value)
    if not cells:
        return [float("nan")] * len(quantities)
    terms = list(cells)
    a = np.zeros((len(terms), system.size))
    for i, t in enumerate(terms):
        for j, v in system.row(t).items():  # type: ignore[arg-type]
            a[i, j] = v
    b = np.array([np.mean(cells[t]) for t in terms])
    lower = np.array([0.0 if key[3] == "n" else -np.inf for key in system.index])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # trf's step arithmetic with infinite bounds
        fit = lsq_linear(a, b, bounds=(lower, np.full(system.size, np.inf)), method="trf", lsmr_tol="auto")
    out = []
    for q, iv in zip(quantities, intervals):
        value = system.value(q.term, fit.x)
        if not np.isfinite(value):  # no usable fit: the middle of what is known
            value = (iv.lo + iv.hi) / 2 if np.isfinite(iv.lo + iv.hi) else iv.lo
        out.append(float(min(max(value, iv.lo), iv.hi)))
    return out


def inconsistencies(responses: Sequence[Response]) -> list[str]:
    """Cells over the same people with the same statistic that got different answers (values, or a
    value and ``[c]``): however a cell is asked, its people must get one answer."""
    seen: dict[object, list[Response]] = defaultdict(list)
    for r in responses:
        seen[r.population].append(r)
    out = []
    for same in seen.values():
        if len({repr(r.answer) for r in same}) > 1:
            out.append("; ".join(f"{r.source} = {r.answer}" for r in same))
    return out


def repeated(responses: Sequence[Response]) -> int:
    """How many cells repeat another's people and statistic (re-asked or re-spelled)."""
    seen: dict[object, int] = defaultdict(int)
    for r in responses:
        seen[r.population] += 1
    return sum(n - 1 for n in seen.values())
