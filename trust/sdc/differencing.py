"""Differencing across a project's outputs: the gap ACRO leaves open.

"All claimants" and "all claimants except one local authority" are both large, safe cells,
and their difference is that authority's seven claimants. So each shown cell's population
(its set of units) is fingerprinted (``sketch``), stored with the project, and every new
cell is compared with the earlier shown cells of the same project, and with the other cells
of its own output, that count the same kind of statistic: frequencies with frequencies, sums
of a measure with sums or averages of the same measure. A new cell whose population differs
from one of them by between 1 and ``min_units - 1`` units is suppressed (rule ``differencing``),
and the report names the earlier output and row.

Staying fast as history grows: the symmetric difference is at least the difference in size,
so only earlier cells within ``min_units - 1`` units in size are candidates: one indexed
range query per statistic (``cell_populations_lookup``), then a vectorised check of how many
sketch cells differ, then peeling for the few left. Cost grows with the number of
same-sized earlier cells, not with the history's length.

Limits (see docs/disclosure.md): pairs only (three outputs combined, A - B - C, are not
checked), populations not values (two different filters that happen to select the same
people are the same population, correctly; a sum over the same people of a different
measure is a different family), units as the engine hashes them (a new DuckDB hash function
starts a new history, detected by the canary), shown cells only, and one project at a time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from trust.sdc.cells import Finding, Parameters
from trust.sdc.linked import Cell
from trust.sdc.report import CellStatus
from trust.sdc.sketch import CELLS, HASHES, SCHEME, Sketch, build_many, sketch_arrays, small_difference

if TYPE_CHECKING:
    from trust.store import Store

RULE = "differencing"

@dataclass(frozen=True)
class Population:
    """One row of a new output: its units' sketch and which columns show which statistic."""

    row: int
    units: int
    sketch: Sketch
    families: Mapping[str, tuple[str, ...]]  # family -> the row's shown columns of that family


@dataclass(frozen=True)
class Earlier:
    output_id: str
    row: int
    units: int
    sketch: Sketch


@dataclass(frozen=True)
class Candidates:
    """Earlier cells within reach in size, as arrays: one row per cell, sorted by units."""

    where: tuple[tuple[str, int], ...]  # (output id, row)
    units: np.ndarray  # int64[N]
    count: np.ndarray  # int64[N, CELLS]
    keys: np.ndarray  # uint64[N, CELLS]
    checks: np.ndarray  # uint64[N, CELLS]

    @classmethod
    def of(cls, earlier: Iterable[Earlier]) -> Candidates:
        items = sorted(earlier, key=lambda e: e.units)
        if not items:
            empty = np.zeros((0, CELLS), dtype=np.uint64)
            return cls((), np.zeros(0, dtype=np.int64), empty.astype(np.int64), empty, empty)
        return cls(tuple((e.output_id, e.row) for e in items), np.array([e.units for e in items], dtype=np.int64),
                   np.stack([e.sketch.count for e in items]), np.stack([e.sketch.keys for e in items]),
                   np.stack([e.sketch.checks for e in items]))

    def sketch(self, i: int) -> Sketch:
        return Sketch(self.count[i], self.keys[i], self.checks[i])


class History(Protocol):
    """A project's earlier shown cells, by sketch scheme, statistic family and size."""

    def candidates(self, scheme: str, family: str, low: int, high: int) -> Candidates: ...


def family(unit_label: str, function: str | None, lineage: Sequence[str]) -> str | None:
    """Which cells can be subtracted from each other: frequencies, or magnitudes of one measure."""
    if function in (None, "count"):
        return f"{unit_label}:count"
    if function in ("sum", "avg"):
        return f"{unit_label}:sum:{','.join(sorted(lineage))}"
    return None  # min, max, quantiles are not additive


def populations(hashes: np.ndarray, offsets: np.ndarray,
                shown: Mapping[int, Mapping[str, tuple[str, ...]]]) -> tuple[Population, ...]:
    """Sketches of the rows with shown cells, from the engine's per-row lists of unit hashes."""
    sketches = build_many(hashes, offsets)
    sizes = np.diff(offsets)
    return tuple(Population(r, int(sizes[r]), sketches[r], fams) for r, fams in sorted(shown.items()) if fams)


def _finding(d: int, exact: bool, where: str, limit: int) -> Finding:
    how = f"{d}" if exact else f"at least {d} (and probably fewer than {limit})"
    return Finding(CellStatus.SUPPRESSED, RULE,
                   f"its population differs from {where} by {how} units; the difference of the two would be a cell "
                   f"of fewer than {limit} units", {"difference": d, "exact": exact, "other": where})


def differencing(new: Sequence[Population], params: Parameters, history: History | None = None, *,
                 scheme: str = "", linked: Iterable[tuple[int, int]] = ()) -> dict[Cell, Finding]:
    """Cells of a new output to suppress because they difference with another shown cell.

    Pairs of rows in ``linked`` (a total and one of its parts) are left to secondary
    suppression, which protects them by choosing the cheapest complement.
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
            spread = ((counts[i + 1:hi] != p.sketch.count) | (keys[i + 1:hi] != p.sketch.keys)).sum(axis=1)
            for k in np.flatnonzero((spread > 0) & (spread <= HASHES * (limit - 1))):
                q = rows[i + 1 + int(k)]
                if frozenset((p.row, q.row)) in skip or any((max(p.row, q.row), c) in out for c in p.families[fam]):
                    continue
                got = small_difference(p.sketch, q.sketch, limit)
                if got is not None:
                    later, first = (p, q) if p.row > q.row else (q, p)
                    for c in later.families[fam]:
                        out[(later.row, c)] = _finding(got[0], got[1], f"row {first.row} of this output", limit)
        if history is None:
            continue
        earlier = history.candidates(scheme, fam, max(0, sizes[0] - limit + 1), sizes[-1] + limit - 1)
        if not len(earlier.units):
            continue
        for p in rows:
            lo = int(np.searchsorted(earlier.units, p.units - limit + 1, "left"))
            hi = int(np.searchsorted(earlier.units, p.units + limit - 1, "right"))
            if lo >= hi:
                continue
            spread = ((earlier.count[lo:hi] != p.sketch.count) | (earlier.keys[lo:hi] != p.sketch.keys)).sum(axis=1)
            for k in np.flatnonzero((spread > 0) & (spread <= HASHES * (limit - 1))):
                got = small_difference(p.sketch, earlier.sketch(lo + int(k)), limit)
                if got is not None:
                    output_id, row = earlier.where[lo + int(k)]
                    for c in p.families[fam]:
                        out.setdefault((p.row, c), _finding(got[0], got[1], f"output {output_id} row {row}", limit))
                    break
    return out


def scheme(canary: object) -> str:
    return f"{SCHEME}:duckdb-hash-{canary}"


class StoredHistory:
    """A project's stored populations in the trust's SQLite store (``trust.store.Store``)."""

    def __init__(self, store: Store, project: str) -> None:
        self.store, self.project = store, project

    def candidates(self, scheme: str, family: str, low: int, high: int) -> Candidates:
        with self.store.connect() as con:
            rows = con.execute(
                "SELECT output_id, row_index, units, sketch FROM cell_populations "
                "WHERE project = ? AND scheme = ? AND family = ? AND units BETWEEN ? AND ? ORDER BY units",
                (self.project, scheme, family, low, high),
            ).fetchall()
        count, keys, checks = sketch_arrays([r[3] for r in rows])
        return Candidates(tuple((o, int(r)) for o, r, _u, _s in rows), np.array([r[2] for r in rows], dtype=np.int64),
                          count, keys, checks)


def record(store: Store, project: str, output_id: str, scheme: str, new: Sequence[Population]) -> None:
    """Store the shown cells' populations, so later outputs of the project are compared with them."""
    rows = [(project, output_id, p.row, fam, scheme, p.units, p.sketch.to_bytes())
            for p in new for fam in p.families]
    if not rows:
        return
    with store.transaction() as con:
        con.executemany(
            "INSERT OR REPLACE INTO cell_populations (project, output_id, row_index, family, scheme, units, sketch) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
