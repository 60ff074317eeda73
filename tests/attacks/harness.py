"""Run one attack sequence against a trust and audit everything its actors received.

The steps, in order: ask every query as its actor (refusals are kept, they carry no numbers);
read each actor's row filters from the policy decision that came back with their outputs; build the
atoms over every query, probe and filter; for each output, which atoms each row and cell could
cover (atom world) and what it truly covers (raw world); turn outputs into facts and protected
quantities; check the model against the ground truth; bound each quantity by linear programming;
judge it; estimate it as the averaging attacker would.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot

from tests.attacks import atoms as atom_space
from tests.attacks.aggregates import tables
from tests.attacks.arena import Arena
from tests.attacks.auditor import System
from tests.attacks.averaging import estimates, inconsistencies, repeated
from tests.attacks.cases import Probe, Sequence
from tests.attacks.catalogue import dataset
from tests.attacks.criteria import Verdict, judge
from tests.attacks.observe import DEFAULT_MIN_UNITS, Fact, Quantity, Response, Rules, Term, observe
from tests.attacks.worlds import CellTruth, atom_world, possible_rows, raw_world, true_rows


@dataclass(frozen=True)
class Received:
    """What one query brought back: an output, or a refusal (its type and message)."""

    actor: str
    sql: str
    output: Any = None  # what the analyst received
    refusal: tuple[str, str] | None = None
    checked: Any = None  # the same output as an output checker sees it: the policy's row filters and thresholds


@dataclass
class Result:
    sequence: Sequence
    received: list[Received]
    verdicts: list[Verdict] = field(default_factory=list)
    estimates: list[float] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    repeats: int = 0
    atoms: int = 0
    facts: int = 0
    seconds: float = 0.0

    @property
    def leaks(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.leak]


def ask(arena: Arena, seq: Sequence) -> list[Received]:
    from trust.errors import TrustError

    sessions = {a.name: arena.session(seq, a) for a in seq.actors}
    out = []
    for q in seq.queries:
        try:
            got = sessions[q.actor].sql(q.sql)
            # The auditor's ground truth needs the actor's row filters and the thresholds, which stay inside
            # the trust: it reads them from the checker's view, never from what the analyst received.
            out.append(Received(q.actor, q.sql, output=got, checked=arena.trust.queries.output("carol", got.id)))
        except TrustError as exc:
            out.append(Received(q.actor, q.sql, refusal=(type(exc).__name__, str(exc))))
    return out


def row_filters(received: list[Received]) -> dict[str, dict[str, list[str]]]:
    """Per actor, per dataset: the row filters its policy decisions imposed (the same for every output)."""
    found: dict[str, dict[str, list[str]]] = {}
    for r in received:
        if r.output is None:
            continue
        obligations = (r.checked.decision or {}).get("obligations") or {}
        mine: dict[str, list[str]] = defaultdict(list)
        for f in obligations.get("row_filters") or ():
            mine[f["dataset"]].append(f["expression"])
        for ds, exprs in mine.items():
            before = found.setdefault(r.actor, {}).setdefault(ds, sorted(exprs))
            if before != sorted(exprs):
                raise ValueError(f"{r.actor}'s row filters on {ds} changed between outputs: {before} / {exprs}")
    return found


def audit(seq: Sequence, received: list[Received], data_dir: Path) -> Result:
    start = time.perf_counter()
    result = Result(seq, received)
    filters = row_filters(received)
    texts: dict[str, list[str]] = defaultdict(list)
    for r in received:
        if r.output is not None:
            texts[tables(sqlglot.parse_one(r.sql, read="duckdb"))[0]].append(r.sql)
    for p in seq.probes:
        texts[tables(sqlglot.parse_one(p.sql, read="duckdb"))[0]].append(p.sql)
    for per_ds in filters.values():
        for ds, exprs in per_ds.items():
            if ds in texts:
                texts[ds] += [f"SELECT count(*) FROM {ds} WHERE {e}" for e in exprs]
    infos = {ds: dataset(ds) for ds in texts}
    spaces = {ds: atom_space.build(infos[ds], texts[ds], data_dir) for ds in texts}
    worlds = {
        a.name: (atom_world(spaces, filters.get(a.name, {})), raw_world(infos, data_dir, filters.get(a.name, {})))
        for a in seq.actors
    }

    facts: list[Fact] = []
    quantities: list[Quantity] = []
    responses: list[Response] = []
    for i, r in enumerate(received):
        if r.output is None:
            continue
        atoms, raw = worlds[r.actor]
        rw, possible = possible_rows(atoms, r.sql)
        truth = true_rows(raw, r.sql, rw.dataset)
        f, q, answers = observe(i, r.output, rw, possible, truth, Rules.of(r.checked))
        facts += f
        quantities += q
        responses += answers
    min_units = min(
        (Rules.of(r.checked).min_units for r in received if r.output is not None), default=DEFAULT_MIN_UNITS
    )
    for p in seq.probes:
        quantities += [q for q in _probe(p, worlds[p.actor], min_units) if q.sensitive]
    quantities = _dedupe(quantities)

    system = System(spaces, facts, quantities)
    system.check(quantities)
    intervals = [system.bound(q.term) for q in quantities]
    result.verdicts = [judge(q, iv) for q, iv in zip(quantities, intervals)]
    result.estimates = estimates(system, facts, quantities, [v.interval for v in result.verdicts])
    result.inconsistent = inconsistencies(responses)
    result.repeats = repeated(responses)
    result.atoms = sum(s.size for s in spaces.values())
    result.facts = len(facts)
    result.seconds = time.perf_counter() - start
    return result


def _probe(probe: Probe, worlds: tuple[Any, Any], min_units: int) -> list[Quantity]:
    """A probe's count (and any sums) over the raw data, as quantities over the atoms."""
    atoms, raw = worlds
    rw, possible = possible_rows(atoms, probe.sql)
    truth = true_rows(raw, probe.sql, rw.dataset)
    if len(possible) != 1 or any(a is None for a in rw.layout[0]):
        raise ValueError(f"probe {probe.name}: write it as SELECT count(*)[, sum(measure)] FROM ... WHERE ...")
    (row,) = possible.values()
    real = next(iter(truth.values()), None)
    rules = Rules(min_units)
    out = []
    for i, agg in enumerate(rw.layout[0]):
        cell = real.cells[i] if real is not None else CellTruth(0.0, (), frozenset())
        if agg.kind == "count":
            out.append(
                Quantity(
                    Term(rw.dataset.id, "count", None, row.cells[i]),
                    cell.value,
                    f"probe {probe.name}",
                    "probe",
                    cell.value < min_units,
                    min_units,
                )
            )
        else:
            out.append(
                Quantity(
                    Term(rw.dataset.id, "sum", agg.measure, row.cells[i]),
                    cell.value,
                    f"probe {probe.name} sum({agg.measure})",
                    "probe",
                    rules.sensitive_magnitude(cell),
                    min_units,
                    largest=abs(cell.largest),
                )
            )
    return out


def _dedupe(quantities: list[Quantity]) -> list[Quantity]:
    """One quantity per term: the same hidden number asked again is one unknown, not two."""
    by_term: dict[Term, Quantity] = {}
    for q in quantities:
        first = by_term.get(q.term)
        if first is None:
            by_term[q.term] = q
        else:
            first.also.append(q.label)
            if q.origin == "probe":
                first.origin, first.label = "probe", q.label
    return list(by_term.values())


def run(arena: Arena, seq: Sequence, data_dir: Path) -> Result:
    return audit(seq, ask(arena, seq), data_dir)
