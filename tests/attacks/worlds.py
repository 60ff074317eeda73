"""Where a query's incidence and its ground truth are computed: plain DuckDB, no trust.

A *world* is a DuckDB connection in which each dataset name (``dwp.uc_claims``) is a view with one
actor's policy row filters applied (DWP's opt-out; an area restriction), over either the atoms (one
row per atom: which atoms could a cell add up) or the raw Parquet (which units it does add up).
The analyst's SQL, rewritten by ``aggregates.rewrite``, runs unchanged in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from tests.attacks.aggregates import BRANCH, GROUP, Aggregate, Rewritten, rewrite
from tests.attacks.atoms import AtomSpace
from tests.attacks.catalogue import DatasetInfo


def _view(con: duckdb.DuckDBPyConnection, info: DatasetInfo, source: str, filters: Sequence[str]) -> None:
    where = " AND ".join(f"({f})" for f in filters) or "TRUE"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {info.schema}")
    con.execute(f"CREATE OR REPLACE VIEW {info.id} AS SELECT * FROM {source} WHERE {where}")


def atom_world(spaces: Mapping[str, AtomSpace], filters: Mapping[str, Sequence[str]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for ds, space in spaces.items():
        name = "atoms_" + ds.replace(".", "_")
        con.register(name + "_arrow", space.table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        _view(con, space.dataset, name, filters.get(ds, ()))
    return con


def raw_world(
    infos: Mapping[str, DatasetInfo], data_dir: Path, filters: Mapping[str, Sequence[str]]
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for ds, info in infos.items():
        _view(con, info, f"read_parquet('{info.parquet(data_dir)}')", filters.get(ds, ()))
    return con


@dataclass(frozen=True)
class PossibleRow:
    """A row the query could return on some data: its keys and, per output column, the atoms it sums."""

    keys: tuple[Any, ...]
    branch: int
    group: frozenset[int]
    cells: tuple[frozenset[int] | None, ...]  # None at key positions


@dataclass(frozen=True)
class CellTruth:
    value: float
    contributions: tuple[float, ...]  # per unit, largest first (1 per unit for counts)
    units: frozenset[str]

    @property
    def largest(self) -> float:
        return self.contributions[0] if self.contributions else 0.0

    @property
    def contributors(self) -> int:
        return sum(1 for c in self.contributions if c != 0)


@dataclass(frozen=True)
class TrueRow:
    keys: tuple[Any, ...]
    branch: int
    units: frozenset[str]
    cells: tuple[CellTruth | None, ...]


def _keyed(rows: list[Any], key: Any) -> dict[tuple[Any, ...], Any]:
    out: dict[tuple[Any, ...], Any] = {}
    for row in rows:
        k = key(row)
        if k in out:
            raise ValueError(f"two rows of the query have the keys {k}: the audit cannot tell them apart")
        out[k] = row
    return out


def possible_rows(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Rewritten, dict[tuple[Any, ...], PossibleRow]]:
    """Every row the query could return, keyed by its group keys (every atom is in the atom world)."""
    rw = rewrite(sql, lambda a: exp.column("atom_id"), exp.column("atom_id"))
    res = con.execute(rw.sql)
    names = [d[0] for d in res.description]
    rows = []
    for rec in res.fetchall():
        branch = rec[names.index(BRANCH)]
        layout = rw.layout[branch]
        keys = tuple(rec[i] for i, a in enumerate(layout) if a is None)
        cells = tuple(None if a is None else frozenset(rec[i] or ()) for i, a in enumerate(layout))
        rows.append(PossibleRow(keys, branch, frozenset(rec[names.index(GROUP)] or ()), cells))
    return rw, _keyed(rows, lambda r: r.keys)


def _payload(info: DatasetInfo) -> Any:
    def payload(agg: Aggregate) -> exp.Expression:
        value = exp.column(agg.measure) if agg.kind == "sum" else exp.Literal.number(1)
        return exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("u"), expression=exp.column(info.unit_key)),
                exp.PropertyEQ(this=exp.to_identifier("v"), expression=value),
            ]
        )

    return payload


def true_rows(con: duckdb.DuckDBPyConnection, sql: str, info: DatasetInfo) -> dict[tuple[Any, ...], TrueRow]:
    """The rows the query returns on the raw data, with each cell's value and per-unit contributions."""
    rw = rewrite(sql, _payload(info), exp.column(info.unit_key))
    res = con.execute(rw.sql)
    names = [d[0] for d in res.description]
    rows = []
    for rec in res.fetchall():
        branch = rec[names.index(BRANCH)]
        layout = rw.layout[branch]
        keys = tuple(rec[i] for i, a in enumerate(layout) if a is None)
        cells = tuple(None if a is None else _cell(a, rec[i] or ()) for i, a in enumerate(layout))
        rows.append(TrueRow(keys, branch, frozenset(rec[names.index(GROUP)] or ()), cells))
    return _keyed(rows, lambda r: r.keys)


def _cell(agg: Aggregate, items: Sequence[dict[str, Any]]) -> CellTruth:
    per_unit: dict[str, float] = {}
    for item in items:
        per_unit[item["u"]] = per_unit.get(item["u"], 0.0) + float(item["v"] or 0.0)
    units = frozenset(per_unit)
    if agg.kind == "count":
        value = float(len(units) if agg.distinct else len(items))
        return CellTruth(value, tuple(1.0 for _ in units), units)
    return CellTruth(float(sum(per_unit.values())), tuple(sorted(per_unit.values(), key=lambda v: -abs(v))), units)
