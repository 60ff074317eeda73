"""Differencing across a project's outputs: the gap ACRO leaves open.

"All claimants" and "all claimants except one local authority" are both large, safe cells,
and their difference is that authority's seven claimants. So each shown cell's population
(its set of units) is fingerprinted (``sketch``), stored with the project, and every new
cell is compared with the earlier shown cells of the same project, and with the other cells
of its own output, over the same kind of unit, whatever the statistic (``family``). A new cell whose population differs
from one of them by between 1 and ``min_units - 1`` units is suppressed (rule ``differencing``),
and the report names the earlier output and row.

Staying fast as history grows: the symmetric difference is at least the difference in size,
so only earlier cells within ``min_units - 1`` units in size are candidates: the family's
cells are read once (index ``cell_populations_lookup``) sorted by size, each new cell takes
its size range by binary search, then a vectorised check of how many sketch cells differ,
then peeling for the few left. Pairs cost grows with the number of same-sized earlier cells;
threes (``_triples``) look further, within a budget.

Limits (see docs/disclosure.md): pairs only (three outputs combined, A - B - C, are not
checked), populations not values (two different filters that happen to select the same
people are the same population, correctly; any two statistics over nearly the same units
are compared, whatever they compute), units as the engine hashes them (a new DuckDB hash function
starts a new history, detected by the canary), shown cells only, and one project at a time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from trust.sdc.cells import Finding, Parameters
from trust.sdc.linked import Cell
from trust.sdc.report import CellStatus
from trust.sdc.sketch import CELLS, HASHES, SCHEME, Sketch, build_many, small_difference

RULE = "differencing"


@dataclass(frozen=True)
class Population:
    """One row of a new output: its units' sketch and which columns show which statistic."""

    row: int
    units: int
    sketch: Sketch
    families: Mapping[str, tuple[str, ...]]  # family -> the row's shown columns of that family
    definition: str = ""  # what selects the row's units (its query's FROM, WHERE and group-key values), hashed


@dataclass(frozen=True)
class Earlier:
    output_id: str
    row: int
    units: int
    sketch: Sketch
    definition: str = ""


@dataclass(frozen=True)
class Candidates:
    """Earlier cells within reach in size, as arrays: one row per cell, sorted by units."""

    where: tuple[tuple[str, int], ...]  # (output id, row)
    units: np.ndarray  # int64[N]
    count: np.ndarray  # int64[N, CELLS]
    keys: np.ndarray  # uint64[N, CELLS]
    checks: np.ndarray  # uint64[N, CELLS]
    definitions: tuple[str, ...] = ()  # per cell, what defined it ("" when unknown)

    @classmethod
    def of(cls, earlier: Iterable[Earlier]) -> Candidates:
        items = sorted(earlier, key=lambda e: e.units)
        if not items:
            empty = np.zeros((0, CELLS), dtype=np.uint64)
            return cls((), np.zeros(0, dtype=np.int64), empty.astype(np.int64), empty, empty)
        return cls(
            tuple((e.output_id, e.row) for e in items),
            np.array([e.units for e in items], dtype=np.int64),
            np.stack([e.sketch.count for e in items]),
            np.stack([e.sketch.keys for e in items]),
            np.stack([e.sketch.checks for e in items]),
            tuple(e.definition for e in items),
        )

    def sketch(self, i: int) -> Sketch:
        return Sketch(self.count[i], self.keys[i], self.checks[i])


class History(Protocol):
    """A project's earlier shown cells, by sketch scheme, statistic family and size."""

    def candidates(self, scheme: str, family: str, low: int, high: int) -> Candidates: ...


def family(unit_label: str) -> str:
    """Which cells are compared: every statistic over the same kind of unit.

    Not only counts with counts: ``sum(1)``, ``sum(CASE WHEN x > 0 THEN 1 ELSE 0 END)`` and
    ``sum(x / x)`` are counts written as sums, and a sum or an average over nearly the same people
    as a count, a median or an extreme tells about the few people between them. Two cells over the
    same population are never flagged (a difference of zero), so a count and a sum of the same
    groups in separate outputs are both shown.
    """
    return f"{unit_label}:any"


def populations(
    hashes: np.ndarray,
    offsets: np.ndarray,
    shown: Mapping[int, Mapping[str, tuple[str, ...]]],
    definitions: Sequence[str] = (),
    sketches: Sequence[Sketch] | None = None,
) -> tuple[Population, ...]:
    """Sketches of the rows with shown cells, from the engine's per-row lists of unit hashes."""
    sketches = build_many(hashes, offsets) if sketches is None else sketches
    sizes = np.diff(offsets)
    return tuple(
        Population(r, int(sizes[r]), sketches[r], fams, definitions[r] if r < len(definitions) else "")
        for r, fams in sorted(shown.items())
        if fams
    )


def gaps(sketches: Sequence[Sketch], relations: Iterable[tuple[int, Sequence[int]]], limit: int) -> dict[int, int]:
    """Total rows whose units are not all in the rows shown as their parts, by 1 to ``limit - 1`` units.

    A total over rows some of which are not in the output (dropped by HAVING or LIMIT) gives the
    missing rows' figures by subtraction: 299 claimants in an area, parts shown summing to 298.
    Sketches add up, so the total's sketch less its parts' is the sketch of the rows left out.
    """
    out: dict[int, int] = {}
    for total, parts in relations:
        rest = sketches[total]
        count, keys, checks = rest.count.copy(), rest.keys.copy(), rest.checks.copy()
        for r in dict.fromkeys(parts):
            count -= sketches[r].count
            keys ^= sketches[r].keys
            checks ^= sketches[r].checks
        left = Sketch(count, keys, checks)
        empty = Sketch(np.zeros_like(count), np.zeros_like(keys), np.zeros_like(checks))
        got = small_difference(left, empty, limit)
        if got is not None:
            out[total] = max(out.get(total, 0), got[0])
    return out


def gap_finding(d: int, limit: int) -> Finding:
    return Finding(
        CellStatus.SUPPRESSED,
        RULE,
        f"{d} of its units are in none of the rows shown as its parts (rows left out by HAVING or LIMIT); "
        f"the total less its parts would be a cell of fewer than {limit} units",
        {"difference": d, "exact": True, "other": "its parts in this output"},
    )


def _same_people(p: Population, definition: str) -> bool:
    """Two cells over exactly the same units by different definitions (both known)."""
    return bool(p.definition and definition and p.definition != definition)


def _same_finding(where: str, limit: int) -> Finding:
    return Finding(
        CellStatus.SUPPRESSED,
        RULE,
        f"it has exactly the units of {where}, selected another way; were it shown, a difference of none "
        f"could be told from a difference of 1 to {limit - 1} units (which is hidden), and that would answer "
        "whether anyone lies between the two definitions",
        {"difference": 0, "exact": True, "other": where},
    )


def _finding(d: int, exact: bool, where: str, limit: int) -> Finding:
    how = f"{d}" if exact else f"at least {d} (and probably fewer than {limit})"
    return Finding(
        CellStatus.SUPPRESSED,
        RULE,
        f"its population differs from {where} by {how} units; the difference of the two would be a cell "
        f"of fewer than {limit} units",
        {"difference": d, "exact": exact, "other": where},
    )


def differencing(
    new: Sequence[Population],
    params: Parameters,
    history: History | None = None,
    *,
    scheme: str = "",
    linked: Iterable[tuple[int, int]] = (),
    notes: list[str] | None = None,
) -> dict[Cell, Finding]:
    """Cells of a new output to suppress because they difference with another shown cell.

    Pairs of rows in ``linked`` (a total and one of its parts) are left to secondary
    suppression, which protects them by choosing the cheapest complement. What could not be
    checked (pairs of earlier cells beyond ``TRIPLE_BUDGET``) is said in ``notes``, for checkers.
    """
    limit = params.min_units
    skip = {frozenset(pair) for pair in linked}
    out: dict[Cell, Finding] = {}
    by_family: dict[str, list[Population]] = {}
    for p in new:
        for fam in p.families:
            by_family.setdefault(fam, []).append(p)
    for fam, rows in by_family.items():
        rows = sorted(rows, key=lambda p: (p.units, p.row))
        sizes = [p.units for p in rows]
        counts = np.stack([p.sketch.count for p in rows])
        keys = np.stack([p.sketch.keys for p in rows])
        for i, p in enumerate(rows):  # within the output: the later row of a pair is suppressed
            hi = bisect.bisect_left(sizes, p.units + limit)
            if hi <= i + 1:
                continue
            spread = ((counts[i + 1 : hi] != p.sketch.count) | (keys[i + 1 : hi] != p.sketch.keys)).sum(axis=1)
            for k in np.flatnonzero(spread <= HASHES * (limit - 1)):
                q = rows[i + 1 + int(k)]
                if frozenset((p.row, q.row)) in skip or any((max(p.row, q.row), c) in out for c in p.families[fam]):
                    continue
                if spread[k] == 0:
                    if p.units == q.units and _same_people(p, q.definition):
                        later, first = (p, q) if p.row > q.row else (q, p)
                        for c in later.families[fam]:
                            out[(later.row, c)] = _same_finding(f"row {first.row} of this output", limit)
                    continue
                got = small_difference(p.sketch, q.sketch, limit)
                if got is not None:
                    later, first = (p, q) if p.row > q.row else (q, p)
                    for c in later.families[fam]:
                        out[(later.row, c)] = _finding(got[0], got[1], f"row {first.row} of this output", limit)
        if history is None:
            continue
        # Every earlier cell of the family, read once: pairs need those near each new cell's size, threes all.
        earlier = history.candidates(scheme, fam, 0, 2**62)
        for p in rows if len(earlier.units) else ():
            lo = int(np.searchsorted(earlier.units, p.units - limit + 1, "left"))
            hi = int(np.searchsorted(earlier.units, p.units + limit - 1, "right"))
            if lo >= hi:
                continue
            spread = ((earlier.count[lo:hi] != p.sketch.count) | (earlier.keys[lo:hi] != p.sketch.keys)).sum(axis=1)
            for k in np.flatnonzero(spread <= HASHES * (limit - 1)):
                output_id, row = earlier.where[lo + int(k)]
                if spread[k] == 0:
                    known = earlier.definitions[lo + int(k)] if earlier.definitions else ""
                    if earlier.units[lo + int(k)] == p.units and _same_people(p, known):
                        for c in p.families[fam]:
                            out.setdefault((p.row, c), _same_finding(f"output {output_id} row {row}", limit))
                        break
                    continue
                got = small_difference(p.sketch, earlier.sketch(lo + int(k)), limit)
                if got is not None:
                    for c in p.families[fam]:
                        out.setdefault((p.row, c), _finding(got[0], got[1], f"output {output_id} row {row}", limit))
                    break
        left = [p for p in rows if not any((p.row, c) in out for c in p.families[fam])]
        if left:
            by_row = {p.row: p for p in left}
            found, unchecked = _triples(left, earlier, limit)
            if unchecked and notes is not None:
                notes.append(
                    f"{unchecked} row(s) were not compared with pairs of earlier cells (more than "
                    f"{TRIPLE_BUDGET:,} pairs): three-output differencing is incomplete for them"
                )
            for row_, (i, j, sign, d, exact) in found.items():
                p = by_row[row_]
                (o1, r1), (o2, r2) = earlier.where[i], earlier.where[j]
                how = "less" if sign < 0 else "plus"
                for c in p.families[fam]:
                    out.setdefault(
                        (p.row, c), _triple_finding(d, exact, f"output {o1} row {r1} {how} output {o2} row {r2}", limit)
                    )
    return out


TRIPLE_BUDGET = 4_000_000  # pairs of earlier cells compared per output; beyond it the rest is not checked


def _triples(
    new: Sequence[Population], earlier: Candidates, limit: int
) -> tuple[dict[int, tuple[int, int, int, int, bool]], int]:
    """New cells within a few units of two earlier cells combined: ``q - r`` or ``q + r``.

    "The region" and "a ten-person area" shown, "the region less that area less a few people
    picked by a measure" differs from each by ten or more, but from their difference by a few.
    Sketches add and subtract like the sets they hold, so the combination's sketch is compared
    like a single cell's. Candidate pairs come one of two ways, whichever is cheaper for the cell:

    - by size: pairs whose sizes combine to within ``limit - 1`` of the new cell's (a range per
      earlier cell in the size-sorted history);
    - by key: in a sketch cell the few units between them leave untouched, ``r``'s XOR key is
      ``q``'s XOR the new cell's, so ``r`` is looked up per ``q`` in each cell's sorted keys.

    Returns the findings and how many new rows were left unchecked when the budget ran out
    (smallest rows first: a probe for a few people is a small cell).
    """
    out: dict[int, tuple[int, int, int, int, bool]] = {}  # new row -> (q, r, sign, difference, exact)
    units = earlier.units
    n = len(units)
    if n < 2:
        return out, 0
    new = sorted(new, key=lambda p: (p.units, p.row))
    done = 0
    budget = TRIPLE_BUDGET
    reach = HASHES * (limit - 1)
    index: tuple[np.ndarray, np.ndarray] | None = None
    for p in new:
        ranges = [_size_ranges(units, p.units, sign, limit) for sign in (-1, 1)]
        size_cost = sum(int(sizes.sum()) for _, sizes in ranges)
        key_cost = CELLS * n
        cost = min(size_cost, key_cost)
        if cost > budget:
            break
        budget -= cost
        if size_cost <= key_cost:
            candidates = [(sign, *_pairs(lo, sizes)) for sign, (lo, sizes) in zip((-1, 1), ranges)]
        else:
            if index is None:
                order = np.argsort(earlier.keys, axis=0, kind="stable")
                index = (order, np.take_along_axis(earlier.keys, order, axis=0))
            candidates = _by_key(earlier, index, p, limit)
        for sign, q, r in candidates:
            found = _first_within_reach(earlier, p, sign, q, r, reach, limit)
            if found is not None:
                out[p.row] = found
                break
        done += 1
    return out, len(new) - done


def _size_ranges(units: np.ndarray, size: int, sign: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Per q, the first r and how many, such that ``units[q] + sign * units[r]`` is within ``limit - 1``
    of ``size`` (``units`` sorted)."""
    n = len(units)
    target = (units - size) if sign < 0 else (size - units)
    lo = np.searchsorted(units, target - limit + 1, "left")
    hi = np.searchsorted(units, target + limit - 1, "right")
    if sign > 0:
        lo = np.maximum(lo, np.arange(n) + 1)  # q before r, once
    return lo, np.maximum(hi - lo, 0)


def _pairs(lo: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = int(sizes.sum())
    q = np.repeat(np.arange(len(lo)), sizes)
    r = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(lo, sizes)
    keep = q != r
    return q[keep], r[keep]


def _by_key(
    earlier: Candidates, index: tuple[np.ndarray, np.ndarray], p: Population, limit: int
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Pairs (q, r) whose XOR keys combine to the new cell's in some sketch cell, and whose sizes fit."""
    order, keys = index
    n = len(earlier.units)
    qs, rs = [], []
    for cell in range(CELLS):
        target = earlier.keys[:, cell] ^ p.sketch.keys[cell]
        lo = np.searchsorted(keys[:, cell], target, "left")
        hi = np.searchsorted(keys[:, cell], target, "right")
        wanted = (hi > lo) & (target != 0)  # an empty cell (key 0) says nothing
        sizes = np.where(wanted, hi - lo, 0)
        total = int(sizes.sum())
        if not total:
            continue
        qs.append(np.repeat(np.arange(n), sizes))
        at = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(lo, sizes)
        rs.append(order[at, cell])
    if not qs:
        return []
    pairs = np.unique(np.stack([np.concatenate(qs), np.concatenate(rs)], axis=1), axis=0)
    q, r = pairs[:, 0], pairs[:, 1]
    q, r = q[q != r], r[q != r]
    out = []
    for sign in (-1, 1):
        fits = np.abs(earlier.units[q] + sign * earlier.units[r] - p.units) <= limit - 1
        out.append((sign, q[fits], r[fits]))
    return out


def _first_within_reach(
    earlier: Candidates, p: Population, sign: int, q: np.ndarray, r: np.ndarray, reach: int, limit: int
) -> tuple[int, int, int, int, bool] | None:
    """The first pair whose combination differs from ``p`` by fewer than ``limit`` units (0 included)."""
    few = slice(0, reach + 1)
    for start in range(0, len(q), 50_000):
        qs, rs = q[start : start + 50_000], r[start : start + 50_000]
        # A combination within reach leaves at least one of any reach + 1 cells untouched (equal):
        # look at that many first, and at all of them only for the few that pass.
        untouched = (
            (earlier.count[qs, few] + sign * earlier.count[rs, few] == p.sketch.count[few])
            & ((earlier.keys[qs, few] ^ earlier.keys[rs, few]) == p.sketch.keys[few])
        ).any(axis=1)
        qs, rs = qs[untouched], rs[untouched]
        count = earlier.count[qs] + sign * earlier.count[rs] - p.sketch.count
        keys = earlier.keys[qs] ^ earlier.keys[rs] ^ p.sketch.keys
        spread = ((count != 0) | (keys != 0)).sum(axis=1)
        for k in np.flatnonzero(spread <= reach):
            i, j = int(qs[k]), int(rs[k])
            if spread[k] == 0:  # exactly the two combined: hidden too, or "none" would show
                return (i, j, sign, 0, True)
            combined = Sketch(
                earlier.count[i] + sign * earlier.count[j],
                earlier.keys[i] ^ earlier.keys[j],
                earlier.checks[i] ^ earlier.checks[j],
            )
            got = small_difference(p.sketch, combined, limit)
            if got is not None:
                return (i, j, sign, got[0], got[1])
    return None


def _triple_finding(d: int, exact: bool, where: str, limit: int) -> Finding:
    if d == 0:
        return Finding(
            CellStatus.SUPPRESSED,
            RULE,
            f"it has exactly the units of {where}; were it shown, that could be told from a difference of "
            f"1 to {limit - 1} units (which is hidden)",
            {"difference": 0, "exact": True, "other": where},
        )
    return _finding(d, exact, where, limit)


def scheme(canary: object) -> str:
    return f"{SCHEME}:md5-64-{canary}"
