"""Secondary suppression: hide complementary cells so no suppressed cell can be recovered.

Given the relations ``total = sum(parts)`` of one output (``linked``) and the cells hidden by
the primary rules, it repeats two steps until both hold:

1. **Each relation hides enough.** A relation with hidden cells must hide at least two, and
   the hidden cells together must cover at least ``min_units`` units: their sum is what an
   attacker recovers from the relation, and it must itself be a safe cell.
2. **Nothing is recoverable by any combination.** With the hidden cells as unknowns, a cell is
   recoverable exactly when its unit vector lies in the row space of the relations (a chain of
   subtractions across rows and columns, not only within one relation). This is checked with
   one SVD: cell i is determined when the projection of e_i onto the row space has length 1.

When a relation needs another cell, the complement chosen is the cheapest sufficient one:
an inner cell before a margin, one that on its own brings the hidden units to ``min_units``,
one that also helps another relation, then the smallest value. Each secondary suppression
records which cell it protects and through which relation.

Not protected: intervals. Non-negativity gives an attacker bounds (a hidden pair in a row
whose total is 12 are each at most 12); tau-ARGUS's optimal method solves a linear program to
keep those intervals wide, this does not. Relations between different outputs are the
differencing rule's concern, not this one's.

    >>> from trust.sdc.linked import Equation
    >>> eq = Equation((2, "n"), ((0, "n"), (1, "n")), "total")
    >>> cells = {(0, "n"): Candidate(3, 3, True), (1, "n"): Candidate(40, 40, False), (2, "n"): Candidate(43, 43, False, 1)}
    >>> sorted(secondary([eq], cells, 10))
    [(1, 'n')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trust.sdc.linked import Cell, Equation


@dataclass(frozen=True)
class Candidate:
    value: float | int | None
    units: int | None
    hidden: bool  # hidden by a primary rule (suppressed or review)
    level: int = 0  # how many dimensions the cell totals over: inner cells 0, margins 1, grand total 2


@dataclass(frozen=True)
class Protection:
    protects: Cell
    why: str


def _units(c: Candidate) -> int:
    return c.units or 0


def _insufficient(eq: Equation, hidden: set[Cell], cells: Mapping[Cell, Candidate], min_units: int) -> bool:
    inside = [c for c in eq.cells if c in hidden]
    if not inside or len(inside) == len(eq.cells):
        return False
    return len(inside) == 1 or sum(_units(cells[c]) for c in inside) < min_units


def determined(equations: Sequence[Equation], hidden: set[Cell]) -> set[Cell]:
    """The hidden cells that the relations pin down exactly, given every visible cell."""
    unknowns = sorted(hidden)
    index = {c: i for i, c in enumerate(unknowns)}
    rows = []
    for eq in equations:
        row = np.zeros(len(unknowns))
        for sign, cell in [(1.0, eq.total)] + [(-1.0, p) for p in eq.parts]:
            if cell in index:
                row[index[cell]] += sign
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    _, s, vt = np.linalg.svd(matrix, full_matrices=False)
    rank = int((s > 1e-9 * max(1.0, s[0])).sum())
    reach = (vt[:rank] ** 2).sum(axis=0)
    return {unknowns[i] for i in np.flatnonzero(reach > 1 - 1e-9)}


def secondary(equations: Sequence[Equation], cells: Mapping[Cell, Candidate], min_units: int) -> dict[Cell, Protection]:
    """The complementary cells to hide, each with the cell it protects and why."""
    relevant = [eq for eq in equations if all(c in cells for c in eq.cells)]
    hidden = {c for c, cand in cells.items() if cand.hidden}
    chosen: dict[Cell, Protection] = {}
    membership: dict[Cell, list[Equation]] = {}
    for eq in relevant:
        for c in eq.cells:
            membership.setdefault(c, []).append(eq)

    def complement(eq: Equation, protects: Cell) -> bool:
        inside = [c for c in eq.cells if c in hidden]
        have = sum(_units(cells[c]) for c in inside)
        open_ = [c for c in eq.cells if c not in hidden]
        if not open_:
            return False
        needy = {id(e) for e in relevant if _insufficient(e, hidden, cells, min_units)}

        def cost(c: Cell) -> tuple:
            cand = cells[c]
            sufficient = len(inside) >= 1 and have + _units(cand) >= min_units
            helps = sum(1 for e in membership.get(c, ()) if id(e) in needy and e is not eq)
            size = abs(float(cand.value)) if cand.value is not None else 0.0
            return (cand.level, not sufficient, -helps, size if sufficient else -_units(cand), c)

        pick = min(open_, key=cost)
        hidden.add(pick)
        chosen[pick] = Protection(protects, eq.why)
        return True

    for _ in range(len(cells) + 1):
        changed = False
        for eq in relevant:
            while _insufficient(eq, hidden, cells, min_units):
                protects = next(c for c in eq.cells if c in hidden)
                if not complement(eq, protects):
                    break
                changed = True
        if changed:
            continue
        exposed = determined(relevant, hidden)
        if not exposed:
            break
        for cell in sorted(exposed):
            options = sorted(membership.get(cell, ()), key=lambda e: sum(1 for c in e.cells if c not in hidden))
            if any(complement(eq, cell) for eq in options if any(c not in hidden for c in eq.cells)):
                changed = True
                break
        if not changed:
            break
    return chosen
