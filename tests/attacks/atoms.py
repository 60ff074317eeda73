"""The atoms of a sequence: the finest partition of a dataset's rows that its queries can tell apart.

Every cell the attacker receives is a sum over rows selected by group keys, WHERE clauses and CASE
conditions. Those only ever look at a few dimensions and at a few thresholds on measures, so every
row falls into one *atom*: a value of each dimension used and an interval of each thresholded
measure. A cell is then a sum over atoms, and the attacker's unknowns are each atom's unit count
(and sums).

The atoms are the full Cartesian product of the public value domains, not the combinations that
exist: an analyst is not told which exist, so an empty atom is an unknown like any other. Two public
classifications are known to everyone and used jointly (ONS geography: a local authority lies in one
region; SIC 2007: a class lies in one section), which only makes the attacker stronger.

Intervals of a thresholded measure: for thresholds t1 < ... < tk the atoms are (-inf, t1), {t1},
(t1, t2), ..., {tk}, (tk, inf), so any comparison of the measure with a literal of the sequence is
constant on an atom.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from tests.attacks.aggregates import Unsupported, _number
from tests.attacks.catalogue import DatasetInfo

# Public classifications: each child value lies in exactly one parent value.
HIERARCHIES = (("la_code", "region"), ("sic2007", "sic_section"))
MAX_ATOMS = 200_000
COMPARISONS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ)


@dataclass(frozen=True)
class AtomSpace:
    dataset: DatasetInfo
    dims: tuple[str, ...]
    thresholds: dict[str, tuple[float, ...]]  # measure -> sorted thresholds that split atoms
    measures: tuple[str, ...]  # every measure the SQL mentions (a column in the synthetic table)
    table: pa.Table  # one row per atom: atom_id, the dims, representative measure values, the unit key
    lower: dict[str, np.ndarray]  # measure -> per atom, the least value one unit can have there
    upper: dict[str, np.ndarray]  # measure -> per atom, the most
    true_units: np.ndarray  # per atom: units in the raw data (ground truth; never shown to the attacker)
    true_sums: dict[str, np.ndarray]  # measure -> per atom: true sum

    @property
    def size(self) -> int:
        return self.table.num_rows


def columns_in(sql_texts: Iterable[str]) -> set[str]:
    return {c.name for text in sql_texts for c in sqlglot.parse_one(text, read="duckdb").find_all(exp.Column)}


def thresholds_in(sql_texts: Iterable[str], info: DatasetInfo) -> dict[str, set[float]]:
    """Every literal a measure is compared with (``>``, ``=``, ``BETWEEN``, ``IN``), per measure."""
    found: dict[str, set[float]] = {}
    for text in sql_texts:
        tree = sqlglot.parse_one(text, read="duckdb")
        for node in tree.find_all(exp.Column):
            if not info.is_measure(node.name):
                continue
            parent = node.parent
            while isinstance(parent, exp.Paren):
                parent = parent.parent
            if isinstance(parent, exp.AggFunc) or isinstance(parent, exp.If) and parent.args.get("true") is node:
                continue  # summed, not compared (a CASE WHEN ... THEN measure branch)
            if isinstance(parent, COMPARISONS):
                other = parent.expression if parent.this is node else parent.this
                values = [_number(other)]
            elif isinstance(parent, exp.Between) and parent.this is node:
                values = [_number(parent.args["low"]), _number(parent.args["high"])]
            elif isinstance(parent, exp.In) and parent.this is node:
                values = [_number(v) for v in parent.expressions]
            else:
                raise Unsupported(
                    f"{node.name} is used as {parent.sql('duckdb')}: a measure may only be summed or "
                    "compared with a number"
                )
            if any(v is None for v in values):
                raise Unsupported(f"{parent.sql('duckdb')}: a measure may only be compared with a number")
            found.setdefault(node.name, set()).update(v for v in values if v is not None)
    return found


def _intervals(ts: tuple[float, ...], low: float, high: float) -> list[tuple[float, float, float]]:
    """(least, most, representative) per interval index 0 .. 2k."""
    out = []
    for i in range(2 * len(ts) + 1):
        if i % 2:  # {t}
            t = ts[i // 2]
            out.append((t, t, t))
        else:
            lo = ts[i // 2 - 1] if i else low
            hi = ts[i // 2] if i // 2 < len(ts) else high
            rep = (ts[0] - 1) if i == 0 else (ts[-1] + 1) if i == 2 * len(ts) else (lo + hi) / 2
            out.append((lo, hi, rep))
    return out


def _index_sql(column: str, ts: tuple[float, ...]) -> str:
    """The interval index of a raw value: 2 x (thresholds below it) + (1 if it equals one)."""
    below = " + ".join(f"({column} > {t!r})::INT" for t in ts)
    equal = " OR ".join(f"{column} = {t!r}" for t in ts)
    return f"2 * ({below}) + ({equal})::INT"


def build(info: DatasetInfo, sql_texts: list[str], data_dir: Path) -> AtomSpace:
    """The atoms for every query, probe and row filter in ``sql_texts``, with the raw data's true counts."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet('{info.parquet(data_dir)}')")
    schema = {
        name: dtype for name, dtype in con.execute("SELECT column_name, column_type FROM (DESCRIBE raw)").fetchall()
    }
    rows, units = con.execute(f"SELECT count(*), count(DISTINCT {info.unit_key}) FROM raw").fetchone()
    if rows != units:
        raise Unsupported(f"{info.id} has {rows} rows for {units} units: atoms count rows as units")
    used = columns_in(sql_texts) & set(schema)
    measures = tuple(sorted(c for c in used if info.is_measure(c)))
    dims = tuple(sorted(c for c in used if not info.is_measure(c) and c != info.unit_key))
    split = {m: tuple(sorted(v)) for m, v in thresholds_in(sql_texts, info).items()}
    ranges = {m: con.execute(f"SELECT min({m}), max({m}), count(*) - count({m}) FROM raw").fetchone() for m in measures}
    for m in split:
        if ranges[m][2]:
            raise Unsupported(f"{m} has missing values and is compared with a number: not modelled")

    # Domains: each hierarchy component jointly, other dimensions alone; then their product.
    components: list[tuple[str, ...]] = []
    left = set(dims)
    for child, parent in HIERARCHIES:
        if child in left and parent in left:
            components.append((child, parent))
            left -= {child, parent}
    components += [(d,) for d in sorted(left)]
    domains = []
    for comp in components:
        cols = ", ".join(comp)
        domains.append(con.execute(f"SELECT DISTINCT {cols} FROM raw ORDER BY ALL").fetchall())
    intervals = {m: _intervals(ts, float(ranges[m][0]), float(ranges[m][1])) for m, ts in split.items()}
    size = int(np.prod([len(d) for d in domains] + [len(v) for v in intervals.values()], dtype=np.int64))
    if size > MAX_ATOMS:
        raise Unsupported(f"{size} atoms over {components} and {list(split)}: narrow the sequence")

    order = [c for comp in components for c in comp]
    split_names = sorted(split)
    rows = list(itertools.product(*domains, *[range(len(intervals[m])) for m in split_names]))
    index = {}
    columns: dict[str, list] = {c: [] for c in order}
    idx_cols: dict[str, list[int]] = {m: [] for m in split_names}
    for a, row in enumerate(rows):
        flat = tuple(v for part in row[: len(domains)] for v in part)
        ids = row[len(domains) :]
        index[flat + tuple(ids)] = a
        for c, v in zip(order, flat):
            columns[c].append(v)
        for m, i in zip(split_names, ids):
            idx_cols[m].append(i)

    n = len(rows)
    arrays: dict[str, pa.Array] = {"atom_id": pa.array(range(n), pa.int64())}
    for c in order:
        arrays[c] = pa.array(columns[c]).cast(_arrow_type(con, schema[c]))
    lower, upper = {}, {}
    for m in measures:
        lo, hi = float(ranges[m][0]), float(ranges[m][1])
        if m in split:
            table = intervals[m]
            pick = np.array(idx_cols[m])
            lower[m] = np.array([table[i][0] for i in pick])
            upper[m] = np.array([table[i][1] for i in pick])
            arrays[m] = pa.array([table[i][2] for i in pick], pa.float64())
        else:
            lower[m], upper[m] = np.full(n, lo), np.full(n, hi)
            arrays[m] = pa.array(np.full(n, lo), pa.float64())
    arrays[info.unit_key] = pa.array([f"atom-{a}" for a in range(n)])
    table = pa.table(arrays)

    # Ground truth per atom: every raw row (before any policy filter) in its atom.
    keys = [*order, *(f"{_index_sql(m, split[m])} AS __i_{m}" for m in split_names)]
    select = ", ".join(keys) if keys else "1"
    group = ", ".join(str(i + 1) for i in range(len(keys))) if keys else "1"
    sums = "".join(f", sum({m})" for m in measures)
    true_units = np.zeros(n)
    true_sums = {m: np.zeros(n) for m in measures}
    for rec in con.execute(
        f"SELECT {select}, count(DISTINCT {info.unit_key}){sums} FROM raw GROUP BY {group}"
    ).fetchall():
        key = tuple(rec[: len(keys)]) if keys else ()
        a = index[key]
        true_units[a] = rec[len(keys)]
        for j, m in enumerate(measures):
            true_sums[m][a] = rec[len(keys) + 1 + j] or 0.0
    return AtomSpace(info, tuple(order), split, measures, table, lower, upper, true_units, true_sums)


def _arrow_type(con: duckdb.DuckDBPyConnection, duck_type: str) -> pa.DataType:
    return con.execute(f"SELECT NULL::{duck_type} AS x").to_arrow_table().schema.field("x").type
