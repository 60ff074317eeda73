"""Worked examples as data: microdata in, expected status of every cell out.

A case file (``cases/*.yaml``) holds cases; each case has microdata rows (or a ``generate``
shorthand), the policy's parameters, and one or more outputs in order (a project's history).
An output groups by some dimensions, computes named cells (``count(*)``, ``sum(amount)``...),
optionally adds total branches (``totals: [[]]`` is a grand total; ``[[region], [sex], []]``
gives a two-way table its margins), and says what each row's cells must be:
``ok``, ``review``, ``suppressed`` or ``suppressed/<rule>``, and optionally the shown value.

Two computations run every case:

- ``python``: the per-cell statistics are computed here in plain Python from the rows (per-unit
  subtotals, largest contributions, negatives, unit hashes) in the engine's column layout, and
  ``trust.sdc.protect`` judges them. This is the rules' specification.
- ``duckdb``: the same output is written as SQL (a UNION ALL of the branches), run through the
  real SQL stages, ``rewrite`` and ``add_companions``, executed by DuckDB, and judged the same way.
  Both must give the expected statuses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from trust.sdc import differencing as diff
from trust.sdc.cells import Parameters
from trust.sdc.protect import Protected, protect
from trust.sql.companions import DEFAULT_DEPTH, Companions, Contribution
from trust.sql.rewrite import Plan
from trust.sql.shape import OutputColumn

CASES = Path(__file__).parent / "cases"
DATASET = "test.microdata"
_CELL = re.compile(r"^(count|sum|avg|min|max|median)\((distinct )?([a-z_*]+)\)$", re.I)


@dataclass(frozen=True)
class Spec:
    by: tuple[str, ...]
    cells: tuple[tuple[str, str, bool, str], ...]  # (name, function, distinct, argument)
    totals: tuple[tuple[str, ...], ...]
    where: Mapping[str, Any]
    expect: Mapping[str, Mapping[str, Any]]
    values: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    params: Mapping[str, Any]
    unit: str
    columns: tuple[str, ...]
    measures: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    outputs: tuple[Spec, ...]
    engines: tuple[str, ...] = ("python", "duckdb")

    @property
    def id(self) -> str:
        return f"{self.file}:{self.name}"

    @property
    def parameters(self) -> Parameters:
        return Parameters.from_json(self.params)


def _generate(spec: Mapping[str, Any], start: int) -> list[dict[str, Any]]:
    """``{region: A, people: 10, rows_each: 3, amount: 5}``: 10 people, 3 rows each, amount 5 per row."""
    rows = []
    fixed = {k: v for k, v in spec.items() if k not in {"people", "rows_each", "amounts"}}
    amounts = spec.get("amounts")
    for p in range(int(spec.get("people", 1))):
        for _ in range(int(spec.get("rows_each", 1))):
            row = dict(fixed)
            row.setdefault("person_id", f"g{start + p}")
            if amounts is not None:
                row["amount"] = amounts[p]
            rows.append(row)
    return rows


def load(path: Path) -> list[Case]:
    doc = yaml.safe_load(path.read_text())
    out = []
    for raw in doc["cases"]:
        rows: list[dict[str, Any]] = [dict(r) for r in raw.get("rows", ())]
        for g in raw.get("generate", ()):
            rows += _generate(g, 1000 * (len(out) + 1) + len(rows))
        unit = raw.get("unit", "person_id")
        columns = tuple(dict.fromkeys(k for r in rows for k in r))
        measures = tuple(
            raw.get(
                "measures",
                [
                    c
                    for c in columns
                    if c not in {unit} and all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows)
                ],
            )
        )
        outputs = []
        for o in raw["outputs"]:
            cells = []
            for name, text in o["cells"].items():
                m = _CELL.match(text.strip())
                if not m:
                    raise ValueError(f"{path.name}: cannot read cell {text!r}")
                cells.append((name, m.group(1).lower(), bool(m.group(2)), m.group(3)))
            outputs.append(
                Spec(
                    by=tuple(o["by"]),
                    cells=tuple(cells),
                    totals=tuple(tuple(t) for t in o.get("totals", ())),
                    where=o.get("where", {}),
                    expect=o.get("expect", {}),
                    values=o.get("values", {}),
                )
            )
        out.append(
            Case(
                path.stem,
                raw["name"],
                raw.get("parameters", {}),
                unit,
                columns,
                measures,
                tuple(rows),
                tuple(outputs),
                tuple(raw.get("engines", ("python", "duckdb"))),
            )
        )
    return out


def all_cases() -> list[Case]:
    return [c for p in sorted(CASES.glob("*.yaml")) for c in load(p)]


# -- the plain-Python computation ------------------------------------------------------------


def unit_hash(unit: Any) -> int:
    return int.from_bytes(hashlib.blake2b(str(unit).encode(), digest_size=8).digest(), "little")


def _where(rows: Iterable[Mapping[str, Any]], where: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = []
    for r in rows:
        keep = True
        for col, cond in where.items():
            if isinstance(cond, Mapping) and "not" in cond:
                keep &= r.get(col) != cond["not"]
            else:
                keep &= r.get(col) == cond
        if keep:
            out.append(r)
    return out


def _branches(spec: Spec) -> list[tuple[str, ...]]:
    return [spec.by] + [t for t in spec.totals]


def _outputs(case: Case, spec: Spec) -> tuple[OutputColumn, ...]:
    cols = [OutputColumn(k, "group_key", None, (f"{DATASET}.{k}",)) for k in spec.by]
    for name, fn, _distinct, arg in spec.cells:
        lineage = () if arg == "*" else (f"{DATASET}.{arg}",)
        cols.append(OutputColumn(name, "aggregate", fn, lineage))
    return tuple(cols)


def _companions(case: Case, spec: Spec) -> Companions:
    contributions = []
    for i, (name, fn, _d, _a) in enumerate(spec.cells):
        pos = len(spec.by) + i
        if fn in ("sum", "avg", "min", "max"):
            base = f"__sdc_{pos}_0_"
            magnitude = fn in ("sum", "avg")
            contributions.append(
                Contribution(
                    name,
                    pos,
                    fn,
                    base + "top",
                    base + "total" if magnitude else None,
                    base + "negative" if magnitude else None,
                    base + "contributors" if magnitude else None,
                )
            )
    totals = tuple(tuple(k not in grouped for k in spec.by) + (False,) * len(spec.cells) for grouped in _branches(spec))
    return Companions(
        case.unit, tuple(contributions), "__sdc_branch", totals, "__sdc_population", "__sdc_canary", DEFAULT_DEPTH, True
    )


def python_raw(case: Case, spec: Spec) -> pa.Table:
    rows = _where(case.rows, spec.where)
    comp = _companions(case, spec)
    data: dict[str, list[Any]] = {}
    for b, grouped in enumerate(_branches(spec)):
        groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
        for r in rows:
            groups.setdefault(tuple(r.get(k) for k in grouped), []).append(r)
        if not grouped and not groups:
            groups[()] = []
        for key, members in groups.items():
            values = dict(zip(grouped, key))
            for k in spec.by:
                data.setdefault(k, []).append(values.get(k))
            units = {m[case.unit] for m in members if m.get(case.unit) is not None}
            for i, (name, fn, distinct, arg) in enumerate(spec.cells):
                xs = [m.get(arg) for m in members] if arg != "*" else [1] * len(members)
                nn = [x for x in xs if x is not None]
                if fn == "count":
                    value = len(set(nn)) if distinct else len(nn)
                elif fn == "sum":
                    value = sum(nn) if nn else None
                elif fn == "avg":
                    value = sum(nn) / len(nn) if nn else None
                elif fn in ("min", "max"):
                    value = (min if fn == "min" else max)(nn) if nn else None
                else:
                    value = statistics.median(nn) if nn else None
                data.setdefault(name, []).append(value)
                pos = len(spec.by) + i
                per_unit: dict[Any, list[Any]] = {}
                for m in members:
                    if m.get(arg) is not None:
                        per_unit.setdefault(m[case.unit], []).append(m[arg])
                base = f"__sdc_{pos}_0_"
                if fn in ("sum", "avg"):
                    subtotals = sorted((float(sum(v)) for v in per_unit.values()), reverse=True)
                    data.setdefault(base + "top", []).append(subtotals[:DEFAULT_DEPTH] if members else None)
                    data.setdefault(base + "total", []).append(float(sum(subtotals)) if subtotals else None)
                    data.setdefault(base + "negative", []).append(any(s < 0 for s in subtotals))
                    data.setdefault(base + "contributors", []).append(sum(1 for s in subtotals if s != 0))
                elif fn in ("min", "max"):
                    ext = sorted(((min if fn == "min" else max)(v) for v in per_unit.values()), reverse=fn == "max")
                    data.setdefault(base + "top", []).append([str(x) for x in ext[:DEFAULT_DEPTH]] if members else None)
            data.setdefault("__units_0", []).append(len(units))
            for k, arg in enumerate(dict.fromkeys(a for _n, _f, _d, a in spec.cells if a != "*")):
                null = {m[case.unit] for m in members if m.get(arg) is None}
                some = {m[case.unit] for m in members if m.get(arg) is not None}
                data.setdefault(f"__units_{1 + 2 * k}", []).append(len(null) or None)
                data.setdefault(f"__units_{2 + 2 * k}", []).append(len(some) or None)
            data.setdefault("__sdc_branch", []).append(b)
            data.setdefault("__sdc_population", []).append(",".join(str(unit_hash(u)) for u in sorted(units)) or None)
            data.setdefault("__sdc_canary", []).append(unit_hash("python"))
    types = {"__sdc_population": pa.string(), "__sdc_canary": pa.uint64()}
    types |= {k: pa.int64() for k in data if k.startswith("__units_")}
    for c in comp.contributions:
        types[c.top] = pa.list_(pa.string() if c.function in ("min", "max") else pa.float64())
    return pa.table({k: pa.array(v, type=types.get(k)) for k, v in data.items()})


def plan_for(case: Case, spec: Spec, companions: Companions | None) -> Plan:
    args = list(dict.fromkeys(a for _n, _f, _d, a in spec.cells if a != "*"))
    # As rewrite's cell_units: each cell's dataset units, and the parts of its own aggregate's argument.
    cell_units = tuple(("__units_0",) for _ in spec.by) + tuple(
        ("__units_0",) + (() if a == "*" else (f"__units_{1 + 2 * args.index(a)}", f"__units_{2 + 2 * args.index(a)}"))
        for _n, _f, _d, a in spec.cells
    )
    return Plan(
        sql="",
        outputs=_outputs(case, spec),
        unit_columns=tuple(f"__units_{k}" for k in range(1 + 2 * len(args))),
        unit_labels=(case.unit,) * (1 + 2 * len(args)),
        datasets=(),
        cell_units=cell_units,
        companions=companions,
    )


@dataclass
class MemoryHistory:
    """A project's history kept in memory, as ``differencing.StoredHistory`` keeps it in SQLite."""

    stored: list[tuple[str, str, diff.Earlier]] = field(default_factory=list)

    def candidates(self, scheme: str, family: str, low: int, high: int) -> diff.Candidates:
        return diff.Candidates.of(
            e for s, f, e in self.stored if s == scheme and f == family and low <= e.units <= high
        )

    def record(self, output_id: str, protected: Protected) -> None:
        for p in protected.populations:
            for fam in p.families:
                self.stored.append((protected.scheme, fam, diff.Earlier(output_id, p.row, p.units, p.sketch)))


def disclosure(case: Case) -> Any:
    return case.parameters


def run_python(case: Case) -> list[Protected]:
    history = MemoryHistory()
    out = []
    for n, spec in enumerate(case.outputs):
        raw = python_raw(case, spec)
        protected = protect(
            raw,
            plan_for(case, spec, _companions(case, spec)),
            disclosure(case),
            max_rows=10_000,
            history=history if history.stored else None,
        )
        history.record(f"out-{n}", protected)
        out.append(protected)
    return out


def run_spark(case: Case, tmp: Path, spark: Any) -> list[Protected]:
    """The same as ``run_duckdb`` on the Spark engine: the file read in place by the trust's data source."""
    from trust.engine.spark import source
    from trust.sql.dialects import leaf_view

    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "microdata.parquet"
    catalog, types = catalog_for(case, path)
    write_parquet(case, path, types)
    session = spark.newSession()
    columns = [(c.name, source.spark_type(c.type or "VARCHAR")) for c in catalog.get(DATASET).columns]
    source.read(session, [str(path)], columns, None).createOrReplaceTempView(leaf_view([str(path)]))
    history = MemoryHistory()
    out = []
    for n, spec in enumerate(case.outputs):
        sql, plan = engine_plan(case, spec, catalog, engine="spark")
        raw = session.sql(sql).toArrow()
        protected = protect(raw, plan, disclosure(case), max_rows=10_000, history=history if history.stored else None)
        history.record(f"out-{n}", protected)
        out.append(protected)
    return out


# -- checking ---------------------------------------------------------------------------------


def row_label(protected: Protected, spec: Spec, row: int) -> str:
    keys = [protected.table.column(k)[row].as_py() for k in spec.by]
    return ", ".join("Total" if k is None else str(k) for k in keys)


def check(case: Case, results: list[Protected], engine: str) -> None:
    for n, (spec, protected) in enumerate(zip(case.outputs, results)):
        by_row = {row_label(protected, spec, r): r for r in range(protected.table.num_rows)}
        cells = {(c.row, c.column): c for c in protected.report.cells}
        where = f"{case.id} [{engine}] output {n}"
        missing = set(spec.expect) - set(by_row)
        assert not missing, f"{where}: rows {sorted(missing)} not in the output (rows: {sorted(by_row)})"
        for label, expected in spec.expect.items():
            for column, want in expected.items():
                cell = cells[(by_row[label], column)]
                status, _, rule = str(want).partition("/")
                got = f"{cell.status.value}/{cell.rule}" if rule else cell.status.value
                assert got == str(want), (
                    f"{where}: row {label!r} {column}: expected {want}, got "
                    f"{cell.status.value}/{cell.rule} ({cell.detail})"
                )
        for label, expected in spec.values.items():
            for column, want in expected.items():
                got = protected.table.column(column)[by_row[label]].as_py()
                assert got == want or (got is not None and want is not None and abs(float(got) - float(want)) < 1e-9), (
                    f"{where}: row {label!r} {column}: expected value {want}, got {got}"
                )


def replace_parameters(case: Case, **changes: Any) -> Case:
    return dataclasses.replace(case, params={**case.params, **changes})


# -- the engine's computation ------------------------------------------------------------------


def _literal(v: Any) -> str:
    return str(v) if isinstance(v, (int, float)) else "'" + str(v).replace("'", "''") + "'"


def sql_for(case: Case, spec: Spec) -> str:
    def cell(fn: str, distinct: bool, arg: str) -> str:
        return f"{fn}({'DISTINCT ' if distinct else ''}{arg})"

    conds = []
    for col, cond in spec.where.items():
        conds.append(f"{col} <> {_literal(cond['not'])}" if isinstance(cond, Mapping) else f"{col} = {_literal(cond)}")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    branches = []
    for grouped in _branches(spec):
        keys = [k if k in grouped else f"CAST(NULL AS VARCHAR) AS {k}" for k in spec.by]
        cells = [f"{cell(fn, d, a)} AS {name}" for name, fn, d, a in spec.cells]
        group = f" GROUP BY {', '.join(grouped)}" if grouped else ""
        branches.append(f"SELECT {', '.join(keys + cells)} FROM {DATASET}{where}{group}")
    return " UNION ALL ".join(branches)


def catalog_for(case: Case, path: Path) -> Any:
    from trust.catalog.model import Catalog, Column, Dataset, FileFooter, Role

    types = {}
    for c in case.columns:
        vals = [r.get(c) for r in case.rows if r.get(c) is not None]
        types[c] = (
            "DOUBLE"
            if any(isinstance(v, float) for v in vals)
            else ("BIGINT" if vals and all(isinstance(v, int) for v in vals) else "VARCHAR")
        )
    cols = tuple(
        Column(
            c,
            Role.LINKAGE_KEY if c == case.unit else Role.MEASURE if c in case.measures else Role.DIMENSION,
            type=types[c],
        )
        for c in case.columns
    )
    ds = Dataset(
        id=DATASET,
        department="TEST",
        title="Worked example",
        location=(str(path),),
        unit_key=case.unit,
        columns=cols,
        files=(FileFooter(str(path), 1, len(case.rows), 1, 1, (), "x"),),
    )
    return Catalog({DATASET: ds}), types


def write_parquet(case: Case, path: Path, types: Mapping[str, str]) -> None:
    import pyarrow.parquet as pq

    arrow = {"DOUBLE": pa.float64(), "BIGINT": pa.int64(), "VARCHAR": pa.string()}
    table = pa.table({c: pa.array([r.get(c) for r in case.rows], type=arrow[types[c]]) for c in case.columns})
    pq.write_table(table, path)


def engine_plan(case: Case, spec: Spec, catalog: Any, engine: str = "duckdb") -> tuple[str, Any]:
    """The real SQL stages on ``spec``'s query: the SQL that runs and its plan."""
    from trust.sql.describe import describe
    from trust.sql.parse import parse
    from trust.sql.resolve import resolve
    from trust.sql.rewrite import no_obligations, rewrite
    from trust.sql.validate import validate

    parsed = parse(sql_for(case, spec))
    validate(parsed)
    resolved = resolve(parsed, catalog)
    description = describe(resolved, catalog)
    plan = rewrite(description, catalog, no_obligations(), engine=engine)  # with the companion statistics
    return plan.sql, plan


def run_duckdb(case: Case, tmp: Path) -> list[Protected]:
    import duckdb

    path = tmp / "microdata.parquet"
    catalog, types = catalog_for(case, path)
    write_parquet(case, path, types)
    history = MemoryHistory()
    out = []
    con = duckdb.connect()
    for n, spec in enumerate(case.outputs):
        sql, plan = engine_plan(case, spec, catalog)
        raw = con.execute(sql).to_arrow_table()
        protected = protect(raw, plan, disclosure(case), max_rows=10_000, history=history if history.stored else None)
        history.record(f"out-{n}", protected)
        out.append(protected)
    return out
