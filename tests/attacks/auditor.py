"""The linear-programming auditor: the narrowest interval each protected quantity can lie in.

Unknowns are, per atom, its unit count n >= 0 and, per summed measure, its sum s, tied to the count
by the measure's range on that atom (lo * n <= s <= hi * n). Each fact bounds a sum of unknowns.
For every protected quantity two linear programs (HiGHS, through ``scipy.optimize.linprog``) give
its least and greatest value over everything the attacker received. This is the attacker of
DESIGN section 7 ("linear programming over everything received").

Counts are integers, so count intervals are rounded inwards; the LP relaxation can only make an
interval wider than the integer one, so a pinned count is pinned for sure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from tests.attacks.atoms import AtomSpace
from tests.attacks.observe import Fact, Quantity, Term

TOLERANCE = 1e-6


class ModelError(AssertionError):
    """The attacker's model contradicts the ground truth: the audit itself is wrong, not the trust."""


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


class System:
    """The unknowns of a sequence and the facts over them, as sparse rows."""

    def __init__(self, spaces: Mapping[str, AtomSpace], facts: Sequence[Fact], quantities: Sequence[Quantity]):
        self.spaces = spaces
        self.index: dict[tuple[str, str | None, int, str], int] = {}
        terms = [f.term for f in facts] + [q.term for q in quantities]
        # n for every atom used; s for every (measure, atom) summed
        for t in terms:
            for a in sorted(t.atoms):
                self._var(t.dataset, None, a)
                if t.kind == "sum":
                    self._var(t.dataset, t.measure, a)
        rows, lo, hi = [], [], []
        for f in facts:
            rows.append(self.row(f.term))
            lo.append(f.lo)
            hi.append(f.hi)
        # each atom's sum lies between its unit count times the measure's least and greatest value there
        for (ds, measure, a, _), j in list(self.index.items()):
            if measure is None:
                continue
            n = self.index[(ds, None, a, "n")]
            space = spaces[ds]
            low, high = float(space.lower[measure][a]), float(space.upper[measure][a])
            rows += [{j: 1.0, n: -low}, {j: 1.0, n: -high}]
            lo += [0.0, -math.inf]
            hi += [math.inf, 0.0]
        self.size = len(self.index)
        self.matrix = self._matrix(rows)
        self.lo, self.hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
        self.facts = list(facts)

    def _var(self, ds: str, measure: str | None, atom: int) -> int:
        key = (ds, measure, atom, "n" if measure is None else "s")
        if key not in self.index:
            self.index[key] = len(self.index)
        return self.index[key]

    def row(self, term: Term) -> dict[int, float]:
        kind = "n" if term.kind == "count" else "s"
        return {self.index[(term.dataset, term.measure, a, kind)]: 1.0 for a in term.atoms}

    def _matrix(self, rows: list[dict[int, float]]) -> sparse.csr_matrix:
        data, ri, ci = [], [], []
        for i, row in enumerate(rows):
            for j, v in row.items():
                ri.append(i)
                ci.append(j)
                data.append(v)
        return sparse.csr_matrix((data, (ri, ci)), shape=(len(rows), len(self.index)))

    def truth(self) -> np.ndarray:
        """The true values of the unknowns (ground truth, for checking the model only)."""
        x = np.zeros(self.size)
        for (ds, measure, a, kind), j in self.index.items():
            space = self.spaces[ds]
            x[j] = space.true_units[a] if kind == "n" else space.true_sums[measure][a]
        return x

    def value(self, term: Term, x: np.ndarray) -> float:
        return float(sum(x[j] for j in self.row(term)))

    def check(self, quantities: Sequence[Quantity]) -> None:
        """Every fact holds for the true data and every quantity's truth is its term's true value; else
        the audit is modelling the trust wrongly and its intervals mean nothing."""
        x = self.truth()
        got = self.matrix @ x
        scale = 1 + np.abs(got)
        bad = np.where((got < self.lo - TOLERANCE * scale) | (got > self.hi + TOLERANCE * scale))[0]
        messages = []
        for i in bad[:5]:
            source = self.facts[i].source if i < len(self.facts) else f"measure range row {i}"
            messages.append(f"{source}: true {got[i]:g} outside [{self.lo[i]:g}, {self.hi[i]:g}]")
        for q in quantities:
            v = self.value(q.term, x)
            if abs(v - q.truth) > TOLERANCE * (1 + abs(v)):
                messages.append(f"{q.label}: atoms give {v:g}, the raw data {q.truth:g}")
        if messages:
            raise ModelError(
                "the attacker's model contradicts the data (if the trust now perturbs what it publishes, "
                "tests/attacks/noise.py must say by how much): " + "; ".join(messages[:8])
            )

    @cached_property
    def _program(self) -> dict[str, object]:
        eq = np.isclose(self.lo, self.hi)
        finite_hi = ~eq & np.isfinite(self.hi)
        finite_lo = ~eq & np.isfinite(self.lo)
        a_ub = sparse.vstack([self.matrix[finite_hi], -self.matrix[finite_lo]]).tocsr()
        b_ub = np.concatenate([self.hi[finite_hi], -self.lo[finite_lo]])
        return {
            "A_ub": a_ub if b_ub.size else None,
            "b_ub": b_ub if b_ub.size else None,
            "A_eq": self.matrix[eq] if eq.any() else None,
            "b_eq": self.lo[eq] if eq.any() else None,
            "bounds": [(0, None) if key[3] == "n" else (None, None) for key in self.index],
        }

    def bound(self, term: Term) -> Interval:
        """Least and greatest value of ``term`` over every x the facts allow."""
        c = np.zeros(self.size)
        for j, v in self.row(term).items():
            c[j] = v
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(sign * c, method="highs", **self._program)
            if res.status == 3:
                ends.append(-math.inf * sign)
            elif res.status == 0:
                ends.append(sign * res.fun)
            else:
                raise ModelError(f"linear program failed ({res.status}: {res.message})")
        return Interval(ends[0], ends[1])
