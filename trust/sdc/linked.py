"""Linked cells: which cells of one output add up to which others.

A suppressed cell is only safe if it cannot be recovered by subtraction. The relations are
found from the query's structure and confirmed or found from the numbers:

- **Totals from the query's structure.** Each branch of a UNION ALL groups by some dimensions
  and puts constants ('Total', NULL) in the others. A row of a branch that groups by fewer
  dimensions is the sum of the rows of a branch grouping by more that agree with it on its
  own dimensions: a 1-D table with its total, a 2-D table with its margins and grand total.
  ROLLUP, CUBE and GROUPING SETS arrive in this shape: trust/sql/grouping.py expands them into
  such a UNION ALL before resolve.
- **Totals in the numbers.** Within one output, a row equal to the sum of all other rows of
  its branch (an analyst's own total row), a single-row branch equal to the sum of another
  branch, or a column equal to the sum of the other additive columns in every row
  (``count(*)`` next to ``count`` of women and of men).

Only additive columns (count, sum) take part; an average or a median is not the sum of
anything. Structural relations hold whether or not the numbers add up exactly (different
filters per branch still give bounds), so they are kept even when they do not.

    >>> layout = Layout(keys=(("A",), ("B",), (None,)), branches=(0, 0, 1), totals=((False,), (True,)),
    ...                 values={"n": (12, 3, 15)})
    >>> [(e.total, e.parts) for e in linked(layout)]
    [((2, 'n'), ((0, 'n'), (1, 'n')))]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Cell = tuple[int, str]  # (row, column)


@dataclass(frozen=True)
class Layout:
    keys: tuple[tuple[Any, ...], ...]  # per row, the group-key values
    branches: tuple[int, ...]  # per row, the UNION ALL branch it came from
    totals: tuple[tuple[bool, ...], ...]  # per branch, per key: a constant there (the row is a total over it)
    values: Mapping[str, Sequence[Any]]  # additive columns only: per column, per row


@dataclass(frozen=True)
class Equation:
    total: Cell
    parts: tuple[Cell, ...]
    why: str  # for the report: which relation this is

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _sum(values: Sequence[Any], rows: Sequence[int]) -> float | None:
    got = [values[r] for r in rows]
    return None if any(v is None for v in got) else float(sum(got))


def _structural(layout: Layout) -> list[Equation]:
    out: list[Equation] = []
    by_branch: dict[int, list[int]] = {}
    for r, b in enumerate(layout.branches):
        by_branch.setdefault(b, []).append(r)
    grouped = {b: frozenset(i for i, t in enumerate(layout.totals[b]) if not t) for b in by_branch}
    for b, rows in by_branch.items():
        for a, finer in by_branch.items():
            if not grouped[b] < grouped[a]:
                continue
            over = ", ".join(str(i) for i in sorted(grouped[a] - grouped[b]))
            for r in rows:
                key = tuple(layout.keys[r][i] for i in sorted(grouped[b]))
                parts = tuple(s for s in finer if tuple(layout.keys[s][i] for i in sorted(grouped[b])) == key)
                if not parts:
                    continue
                for col in layout.values:
                    out.append(
                        Equation(
                            (r, col),
                            tuple((s, col) for s in parts),
                            f"row {r} is the total over key {over} of rows {_rows(parts)}",
                        )
                    )
    return out


def _rows(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:6])
    return shown + (f" and {len(rows) - 6} more" if len(rows) > 6 else "")


def _numeric_rows(layout: Layout, known: set[tuple[Cell, tuple[Cell, ...]]]) -> list[Equation]:
    out: list[Equation] = []
    cols = list(layout.values)
    if not cols:
        return out
    by_branch: dict[int, list[int]] = {}
    for r, b in enumerate(layout.branches):
        by_branch.setdefault(b, []).append(r)
    candidates: list[tuple[int, list[int], str]] = []
    for rows in by_branch.values():
        if len(rows) < 3:
            continue
        # A row equal to the sum of the others is half of the branch's total: checked in O(rows).
        totals = {c: _sum(layout.values[c], rows) for c in cols}
        for r in rows:
            if all(totals[c] is not None and _close(2 * float(layout.values[c][r]), totals[c]) for c in cols):
                candidates.append((r, [s for s in rows if s != r], "the sum of the other rows"))
    for b, rows in by_branch.items():
        if len(rows) == 1:
            candidates += [
                (rows[0], other, f"the sum of branch {a}")
                for a, other in by_branch.items()
                if a != b and len(other) >= 2
            ]
    for r, parts, what in candidates:
        if all(_close(layout.values[c][r], _sum(layout.values[c], parts)) for c in cols):
            for c in cols:
                eq = ((r, c), tuple((s, c) for s in parts))
                if eq not in known:
                    out.append(Equation(eq[0], eq[1], f"row {r} equals {what} ({_rows(parts)})"))
    return out


def _numeric_columns(layout: Layout) -> list[Equation]:
    out: list[Equation] = []
    cols = list(layout.values)
    rows = range(len(layout.branches))
    if len(cols) < 3 or not rows:
        return out
    for t in cols:
        others = [c for c in cols if c != t]
        if all(
            _close(layout.values[t][r], _sum([layout.values[c][r] for c in others], range(len(others)))) for r in rows
        ):
            out += [
                Equation((r, t), tuple((r, c) for c in others), f"column {t} is the sum of {', '.join(others)}")
                for r in rows
            ]
    return out


def linked(layout: Layout) -> tuple[Equation, ...]:
    """Every relation total = sum(parts) between cells of one output."""
    structural = _structural(layout)
    known = {(e.total, e.parts) for e in structural}
    return tuple(structural + _numeric_rows(layout, known) + _numeric_columns(layout))
