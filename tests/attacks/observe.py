"""What one output tells the attacker (facts), and what it hid (protected quantities).

Facts, each a linear term over the atoms with an interval:

* a shown cell: its published value, give or take ``noise_bound`` (0 while the trust publishes exact
  values);
* a shown row: its group has at least the minimum number of units (the README says rows from fewer
  are withheld whole);
* a row the query could return but did not: its group has 0 to ``min_units - 1`` units. Only for
  rows without conditional aggregates: those are withheld when any *part* is small, a disjunction a
  linear program cannot hold, so the attacker is given less there, never something false.

Protected quantities are the sensitive true values behind the output, whether hidden or shown: a
count of fewer than ``min_units`` units (zero included), a sum with few contributors or failing
dominance or p%, each withheld row's group, and each probe. Ground truth (true values, largest
contributions) goes with them for judging, never into the facts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.attacks.aggregates import Aggregate, Rewritten
from tests.attacks.noise import noise_bound
from tests.attacks.worlds import CellTruth, PossibleRow, TrueRow

DEFAULT_MIN_UNITS = 10


@dataclass(frozen=True)
class Term:
    """A linear function of the unknowns: the units (``count``) or a measure's sum over some atoms."""

    dataset: str
    kind: str
    measure: str | None
    atoms: frozenset[int]


@dataclass(frozen=True)
class Fact:
    term: Term
    lo: float
    hi: float
    source: str
    published: bool = False  # a shown cell (the averaging attacker uses only these)
    value: float | None = None


@dataclass(frozen=True)
class Response:
    """What the attacker got for one cell of a shown row: a value or ``[c]``. ``population`` is the ground
    truth (dataset, kind, measure, units), for checking that the same people get the same answer."""

    population: tuple[Any, ...]
    source: str
    answer: Any  # a float or "[c]"


@dataclass
class Quantity:
    term: Term
    truth: float
    label: str
    origin: str  # withheld row | withheld cell | suppressed cell | probe
    sensitive: bool
    min_units: int
    largest: float | None = None  # magnitudes: the largest unit's contribution
    also: list[str] = field(default_factory=list)  # the same quantity, hidden again elsewhere


@dataclass(frozen=True)
class Rules:
    """The parameters disclosure control applied, as the output's decision states them."""

    min_units: int
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_percent: float = 0.1

    @classmethod
    def of(cls, out: Any) -> Rules:
        params = getattr(getattr(out, "report", None), "parameters", None)
        disclosure = ((getattr(out, "decision", None) or {}).get("obligations") or {}).get("disclosure") or {}
        dominance = disclosure.get("dominance") or {}
        return cls(
            int(getattr(params, "min_units", None) or disclosure.get("min_units") or DEFAULT_MIN_UNITS),
            int(dominance.get("n", 2)),
            float(dominance.get("k", 0.9)),
            float(disclosure.get("p_percent") or 0.1),
        )

    def sensitive_magnitude(self, cell: CellTruth) -> bool:
        """Few contributors, dominated, or failing p%: a hidden sum an attacker must not get close to."""
        x = [abs(c) for c in cell.contributions]
        total = sum(x)
        if cell.contributors < self.min_units:
            return True
        top = sum(x[: self.dominance_n])
        return total > 0 and (
            top >= self.dominance_k * total or (total - x[0] - (x[1] if len(x) > 1 else 0)) < self.p_percent * x[0]
        )


def _term(ds: str, agg: Aggregate | None, atoms: frozenset[int]) -> Term:
    if agg is None or agg.kind == "count":
        return Term(ds, "count", None, atoms)
    return Term(ds, "sum", agg.measure, atoms)


def _label(query: int, keys: tuple[Any, ...], column: str | None = None) -> str:
    shown = ", ".join("Total" if k is None else str(k) for k in keys) or "all"
    return f"q{query + 1} ({shown})" + (f" {column}" if column else "")


def observe(
    query: int,
    out: Any,
    rw: Rewritten,
    possible: Mapping[tuple[Any, ...], PossibleRow],
    truth: Mapping[tuple[Any, ...], TrueRow],
    rules: Rules | None = None,
) -> tuple[list[Fact], list[Quantity], list[Response]]:
    """The facts one published output gives, the sensitive quantities behind it (shown or not: a
    small count published with noise is still a small count), and the answer for every cell."""
    ds = rw.dataset.id
    rules = rules or Rules.of(out)
    key_pos = rw.key_positions(0)
    if any(rw.key_positions(b) != key_pos for b in range(len(rw.layout))):
        raise ValueError(f"q{query + 1}: UNION ALL branches put group keys in different columns")
    if out.table.num_columns != rw.width:
        raise ValueError(f"q{query + 1}: the output has {out.table.num_columns} columns, the SQL {rw.width}")
    columns = [out.table.column(i).to_pylist() for i in range(out.table.num_columns)]
    names = list(out.columns)
    facts: list[Fact] = []
    quantities: list[Quantity] = []
    responses: list[Response] = []
    shown: dict[tuple[Any, ...], int] = {}
    for r in range(out.table.num_rows):
        keys = tuple(columns[i][r] for i in key_pos)
        if keys not in possible:
            raise ValueError(f"q{query + 1}: the trust returned a row {keys} no atom can produce")
        shown[keys] = r
    for keys, row in possible.items():
        real = truth.get(keys)
        layout = rw.layout[row.branch]
        group = _term(ds, None, row.group)
        units = float(len(real.units)) if real is not None else 0.0
        r = shown.get(keys)
        if r is None:
            if not any(a is not None and a.splits for a in layout):
                facts.append(Fact(group, 0.0, rules.min_units - 1, _label(query, keys) + " is withheld"))
            if units < rules.min_units:
                quantities.append(
                    Quantity(group, units, _label(query, keys) + " units", "withheld row", True, rules.min_units)
                )
        else:
            facts.append(Fact(group, rules.min_units, math.inf, _label(query, keys) + " is shown"))
        for i, agg in enumerate(layout):
            if agg is None:
                continue
            cell = real.cells[i] if real is not None else CellTruth(0.0, (), frozenset())
            term = _term(ds, agg, row.cells[i])
            label = _label(query, keys, names[i])
            hidden = r is None or out.suppressed[i][r]
            if r is not None:  # a withheld row is a decision about the row, which the oracle tests cover
                answer = "[c]" if hidden else float(columns[i][r])
                responses.append(Response((ds, agg.kind, agg.measure, cell.units), label, answer))
            if r is not None and not hidden:
                value = float(columns[i][r])
                bound = float(noise_bound(out, names[i], r, cell, agg.kind))
                facts.append(Fact(term, value - bound, value + bound, label, True, value))
            if term == group and r is None:
                continue
            origin = "withheld cell" if r is None else "suppressed cell" if hidden else "shown cell"
            quantity = _quantity(term, cell, agg, rules, label, origin)
            if quantity.sensitive:
                quantities.append(quantity)
    return facts, quantities, responses


def _quantity(term: Term, cell: CellTruth, agg: Aggregate, rules: Rules, label: str, origin: str) -> Quantity:
    if agg.kind == "count":
        return Quantity(term, cell.value, label, origin, cell.value < rules.min_units, rules.min_units)
    return Quantity(
        term, cell.value, label, origin, rules.sensitive_magnitude(cell), rules.min_units, largest=abs(cell.largest)
    )
