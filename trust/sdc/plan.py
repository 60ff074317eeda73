"""What disclosure control needs to know about a query's result: the contract between rewrite and protect.

``trust.sql.rewrite`` builds a plan (``trust.sql.rewrite.Plan``) whose SQL returns the analyst's
columns and hidden companion columns; ``trust.sdc.protect`` reads the result through this
description: which output column is what, which hidden column holds each unit count, and where the
per-unit contributions, the branch of each row and its population fingerprint are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from trust.sdc.formula import Formula


@dataclass(frozen=True)
class Contribution:
    """The per-unit figures behind one aggregate of one output column."""

    output: str  # the output column's name
    position: int  # its position in the result
    function: str  # sum | avg | min | max
    top: str  # LIST column: sum/avg: largest per-unit contributions, largest first; min/max: most extreme per-unit values
    total: str | None  # sum/avg: the underlying sum
    negative: str | None  # sum/avg: whether any unit's contribution is negative
    contributors: str | None = None  # sum/avg: units whose contribution is not zero
    # Which kind of unit the contributions are of: 0 is the measure's own (``Companions.unit_label``); k > 0 the
    # k-th other kind the query reads (the employers of employees' pay by sector): dominance is judged for each.
    unit: int = 0


@dataclass(frozen=True)
class Companions:
    unit_label: str  # the unit contributions are measured in (person_id, employer_id)
    contributions: tuple[Contribution, ...]
    branch: str  # which UNION ALL branch each row came from (0 without a UNION)
    totals: tuple[tuple[bool, ...], ...]  # per branch, per output column: a constant there (a total row's label)
    population: str  # the (64-bit) hashes of each row's units, comma-separated, for differencing
    canary: str  # the engine's hash of CANARY: fingerprints compare only when it matches
    depth: int
    single_scan: bool  # every branch was re-aggregated in one pass
    publication: Publication | None = None  # noise mode: how to publish; None with suppression instead

    @property
    def columns(self) -> tuple[str, ...]:
        cols = [self.branch, self.population, self.canary]
        for c in self.contributions:
            cols += [n for n in (c.top, c.total, c.negative, c.contributors) if n]
        return tuple(cols)


class OutputSpec(Protocol):
    """One output column (``trust.sql.shape.OutputColumn``)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...  # group_key | aggregate

    @property
    def function(self) -> str | None: ...  # for aggregates: count, sum, avg, ...

    @property
    def lineage(self) -> tuple[str, ...]: ...


class ProtectionPlan(Protocol):
    """What ``protect`` reads of a plan (``trust.sql.rewrite.Plan``)."""

    @property
    def outputs(self) -> Sequence[OutputSpec]: ...

    @property
    def unit_columns(self) -> Sequence[str]: ...

    @property
    def companions(self) -> Companions | None: ...

    @property
    def definitions(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Slot:
    """One aggregate of the query, with the hidden columns that perturbing it needs.

    ``kind``: count (a count, or a sum of 0/1 indicators), sum, avg (sum over count), avg_count
    (the share of an indicator), min, max, or scaled (median, quantiles).
    """

    key: int
    kind: str
    value: str  # the true value
    cell_key: str  # the sum of the contributing units' record keys, modulo 2**32
    largest: str | None = None  # sum/avg: the largest absolute contribution of one unit
    top_key: str | None = None  # sum/avg: that unit's record key
    count: str | None = None  # avg: the number of values
    count_key: str | None = None  # avg: the key of the units with a value


@dataclass(frozen=True)
class Publication:
    """How each result column is recomputed from perturbed aggregates (noise mode)."""

    slots: tuple[Slot, ...]
    formulas: tuple[tuple[Formula | None, ...], ...]  # per UNION ALL branch, per column: None for a group key
    having: Formula | None = None  # the analyst's HAVING, applied to published values
    limit: int | None = None  # the analyst's LIMIT, applied after HAVING

    @property
    def columns(self) -> tuple[str, ...]:
        names: list[str] = []
        for s in self.slots:
            names += [n for n in (s.value, s.cell_key, s.largest, s.top_key, s.count, s.count_key) if n]
        return tuple(names)
