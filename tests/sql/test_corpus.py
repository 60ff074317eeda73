"""The adversarial corpus and the control queries, end to end against the real department servers.

Every adversarial case (tests/sql/corpus/<category>.yaml) is either refused with the rule it names,
or comes back with no visible cell drawn from fewer units than the policy's threshold and no
identifier-like value anywhere. Every control query (corpus/control.yaml) is allowed and matches a
direct DuckDB computation over the same Parquet files, with the decision's row filters and
column masks applied, cell for cell (suppressed cells excepted).
"""

from __future__ import annotations

import collections
import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from corpus_cases import CATEGORIES, Case, Control, load_cases, load_controls

from tests.views import checker_view, true_rows
from trust.catalog import load_catalog
from trust.config import REPO_ROOT
from trust.demo.environment import configure_home, seed_users
from trust.errors import TrustError
from trust.service import Trust

CASES = load_cases()
CONTROLS = load_controls()
TIMEOUT_S = 5.0
IDENTIFIER_LIKE = (
    re.compile(r"^p[0-9a-f]{15}$"),  # person_id
    re.compile(r"^E9?\d{7}$"),  # employer_id
    re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$"),  # NINO
)


def _trust(departments: Any, home: Path, **settings: Any) -> Trust:
    configure_home(home, departments.endpoints, query_timeout_s=TIMEOUT_S, **settings)
    trust = Trust.open(home)
    seed_users(trust)
    return trust


@pytest.fixture(scope="module")
def corpus_trust(departments, tmp_path_factory: pytest.TempPathFactory) -> Trust:
    """One trust for the module (every number perturbed, the default): the corpus only reads."""
    return _trust(departments, tmp_path_factory.mktemp("corpus-home"))


@pytest.fixture(scope="module")
def suppressing_trust(departments, tmp_path_factory, suppressing_policies: Path) -> Trust:
    """The same with suppression instead of noise: exact numbers, suppression and differencing."""
    return _trust(departments, tmp_path_factory.mktemp("corpus-suppress"), policies_dir=str(suppressing_policies))


def _outcome(trust: Trust, case: Case | Control) -> Any:
    """The stored output as a checker sees it (true values and figures), from an analyst's query."""
    return checker_view(trust, trust.session(case.user, case.project).sql(case.sql))


def _rule(exc: TrustError) -> str:
    return exc.context.get("rule") or type(exc).__name__


def _visible_values(out: Any) -> list[Any]:
    return [v for col in out.table.columns for v in col.to_pylist()]


def _check_safe(out: Any, case: Case, data: duckdb.DuckDBPyConnection, *, require_suppression: bool) -> None:
    threshold = out.decision["obligations"]["disclosure"]["min_units"]
    cells = list(out.report.cells)
    small = [c for c in cells if c.status.value == "ok" and (c.units is None or c.units < threshold)]
    assert not small, f"{case.id}: cells shown with fewer than {threshold} units: {small[:3]}"
    for value in _visible_values(out):
        assert not any(p.match(str(value)) for p in IDENTIFIER_LIKE), f"{case.id}: identifier-like value {value!r}"
    if case.suppressed and require_suppression:
        assert any(c.status.value != "ok" for c in cells) or out.report.withheld, (
            f"{case.id}: expected at least one suppressed cell or withheld row"
        )
    if case.truth:
        aggregate = {c.column for c in cells}
        keys = [n for n in out.table.column_names if n not in aggregate]
        truth = {tuple(_number(v) for v in r[:-1]): r[-1] for r in data.execute(case.truth).fetchall()}
        rows = out.table.to_pylist()
        checked = 0
        for cell in cells:
            if cell.status.value != "ok":
                continue
            key = tuple(_number(rows[cell.row][k]) for k in keys)
            assert truth[key] >= threshold, f"{case.id}: row {key} shown but only {truth[key]} units are behind it"
            checked += 1
        assert checked or case.suppressed, f"{case.id}: the truth check compared nothing"


_LOCAL: dict[str, duckdb.DuckDBPyConnection] = {}


def _local(data_dir: Path, decision: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Views named like the datasets over the local Parquet files, with the decision's obligations."""
    obligations = decision.get("obligations", {})
    key = json.dumps([str(data_dir), obligations.get("row_filters"), obligations.get("column_masks")], sort_keys=True)
    if key in _LOCAL:
        return _LOCAL[key]
    con = _LOCAL[key] = duckdb.connect()
    for ds in load_catalog(REPO_ROOT / "catalog"):
        folder = data_dir / ds.schema_name / ds.table_name
        if not folder.exists():
            continue
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ds.schema_name}")
        masks = {m["column"]: m["expression"] for m in obligations.get("column_masks", []) if m["dataset"] == ds.id}
        cols = ", ".join(f"{masks[c.name]} AS {c.name}" if c.name in masks else c.name for c in ds.columns)
        filters = [f["expression"] for f in obligations.get("row_filters", []) if f["dataset"] == ds.id]
        where = " WHERE " + " AND ".join(f"({f})" for f in filters) if filters else ""
        con.execute(f"CREATE VIEW {ds.id} AS SELECT {cols} FROM read_parquet('{folder}/*.parquet'){where}")
    return con


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool) else value


def _same(got: Any, want: Any) -> bool:
    got, want = _number(got), _number(want)
    if isinstance(got, float) and isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(got) and math.isnan(want))
    return got == want


def _check_executed(out: Any, trust: Trust, case: Case | Control) -> None:
    """The SQL that ran is the SQL generated from the checked tree: the same text the gatekeeper's
    plan holds, a fixed point of sqlglot's reader and writer, free of the analyst's comments, and
    reading nothing but the catalogue's own files."""
    checked = trust.queries.check(case.user, case.project, case.sql)
    assert out.executed_sql == checked.plan.sql
    tree = sqlglot.parse_one(out.executed_sql, read="duckdb")
    assert tree.sql(dialect="duckdb") == out.executed_sql
    assert "--" not in out.executed_sql and "/*" not in out.executed_sql
    files = {f.url for ds in trust.catalog.bound() for f in ds.files}
    for table in tree.find_all(sqlglot.exp.Table):
        if isinstance(table.this, sqlglot.exp.Identifier):
            continue  # a CTE reference
        reader = table.this
        name = reader.name if isinstance(reader, sqlglot.exp.Anonymous) else reader.sql_name()
        assert name.upper() == "READ_PARQUET", f"{case.id}: reads {reader.sql('duckdb')}"
        urls = {u.name for u in table.this.find_all(sqlglot.exp.Literal) if u.is_string}
        assert urls and urls <= files, f"{case.id}: reads files outside the catalogue: {urls - files}"


# -- the corpus itself ------------------------------------------------------------------------------


def test_corpus_is_large_and_covers_every_category() -> None:
    counts = collections.Counter(c.category for c in CASES)
    assert len(CASES) >= 200, f"only {len(CASES)} adversarial cases"
    assert len(CONTROLS) >= 30, f"only {len(CONTROLS)} control queries"
    thin = {cat: counts.get(cat, 0) for cat in CATEGORIES if counts.get(cat, 0) < 5}
    assert not thin, f"categories with fewer than 5 cases: {thin}"
    refused = [c for c in CASES if c.expect == "refused"]
    assert len({r for c in refused for r in c.rules}) >= 40, "the corpus should exercise most refusal rules"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case(case: Case, corpus_trust: Trust, data_dir: Path) -> None:
    # With noise, what a case's suppression protected is protected by perturbation instead (tests/attacks
    # measures it); here every case is refused as expected, or shows no cell from too few units.
    _run_case(case, corpus_trust, data_dir, require_suppression=False)


SUPPRESSING = [c for c in CASES if c.suppressed]


@pytest.mark.parametrize("case", SUPPRESSING, ids=[c.id for c in SUPPRESSING])
def test_adversarial_case_with_suppression_instead(case: Case, suppressing_trust: Trust, data_dir: Path) -> None:
    _run_case(case, suppressing_trust, data_dir, require_suppression=True)


def _run_case(case: Case, trust: Trust, data_dir: Path, *, require_suppression: bool) -> None:
    corpus_trust = trust
    try:
        out = _outcome(corpus_trust, case)
    except TrustError as exc:
        assert case.expect == "refused", f"{case.id} was refused ({_rule(exc)}: {exc}) but should be safe"
        assert _rule(exc) in case.rules, f"{case.id}: refused by {_rule(exc)} ({exc}), expected {case.rules}"
        assert "\n" not in str(exc) and "Traceback" not in str(exc)
        for value_like in IDENTIFIER_LIKE:
            assert not any(value_like.match(word.strip("'\".,()")) for word in str(exc).split()), str(exc)
        return
    assert case.expect == "safe", f"{case.id} was allowed but should be refused by {case.rules}"
    _check_safe(out, case, _local(data_dir, dict(out.decision)), require_suppression=require_suppression)
    _check_executed(out, corpus_trust, case)


@pytest.mark.parametrize("control", CONTROLS, ids=[c.id for c in CONTROLS])
def test_control_query_is_allowed_and_correct(control: Control, corpus_trust: Trust, data_dir: Path) -> None:
    """With noise: the true numbers (the checker's view) match the direct computation; each published
    count is within the perturbation's bound of its true value."""
    try:
        out = _outcome(corpus_trust, control)
    except TrustError as exc:
        pytest.fail(f"control {control.id} was refused: {_rule(exc)}: {exc}")
    _check_executed(out, corpus_trust, control)
    con = _local(data_dir, dict(out.decision))
    expected = con.execute(control.direct or control.sql).fetchall()
    names = out.table.column_names
    noise = out.report.parameters.noise
    assert noise is not None
    functions = {
        o.name: o.function for o in corpus_trust.queries.check(control.user, control.project, control.sql).plan.outputs
    }
    for c in out.report.cells:
        value, true = c.figures["published"], c.figures["value"]
        if functions.get(c.column) == "count" and value is not None and true is not None:
            assert abs(value - true) <= noise.max_deviation, f"{control.id}: {c.column} row {c.row}: {value} vs {true}"
    rows = [dict(zip(names, row)) for row in true_rows(out)]
    # rows from fewer than the minimum units never leave the engine: every row shown is in the direct result
    assert 0 < len(rows) <= len(expected), f"{control.id}: {len(rows)} rows, direct computation has {len(expected)}"
    _compare(control, out, rows, expected, names, hidden_are_null=False)


@pytest.mark.parametrize("control", CONTROLS, ids=[c.id for c in CONTROLS])
def test_control_query_with_suppression_instead_is_exact(
    control: Control, suppressing_trust: Trust, data_dir: Path
) -> None:
    """With suppression instead of noise the published numbers are the direct computation's, cell for cell,
    and only rows of fewer than the minimum units are withheld."""
    try:
        out = _outcome(suppressing_trust, control)
    except TrustError as exc:
        pytest.fail(f"control {control.id} was refused: {_rule(exc)}: {exc}")
    con = _local(data_dir, dict(out.decision))
    expected = con.execute(control.direct or control.sql).fetchall()
    rows = out.table.to_pylist()
    names = out.table.column_names
    # rows from fewer than the minimum units are withheld whole (trust/sdc/withhold.py)
    assert len(rows) + out.report.withheld == len(expected), (
        f"{control.id}: {len(rows)} rows and {out.report.withheld} withheld, direct computation has {len(expected)}"
    )
    _compare(control, out, rows, expected, names, hidden_are_null=True)


def _compare(
    control: Control,
    out: Any,
    rows: list[dict[str, Any]],
    expected: list[tuple[Any, ...]],
    names: list[str],
    *,
    hidden_are_null: bool,
) -> None:
    """Each row against the direct computation's row of the same keys, cell for cell; a hidden cell is
    null where the rows are published values (``hidden_are_null``), and compared where they are true ones."""
    aggregate = {c.column for c in out.report.cells}
    key_columns = [i for i, n in enumerate(names) if n not in aggregate]
    by_key: dict[tuple[Any, ...], list[tuple[Any, ...]]] = collections.defaultdict(list)
    for row in expected:
        by_key[tuple(_number(row[i]) for i in key_columns)].append(row)
    suppressed = {(c.row, c.column) for c in out.report.cells if c.status.value != "ok"}
    shown = 0
    for r, row in enumerate(rows):
        values = [row[n] for n in names]
        key = tuple(_number(values[i]) for i in key_columns)
        assert by_key.get(key), f"{control.id}: row {key} is not in the direct computation"
        want = by_key[key].pop()
        for i, name in enumerate(names):
            if (r, name) in suppressed and hidden_are_null:
                assert values[i] is None
                continue
            shown += 1
            assert _same(values[i], want[i]), f"{control.id}: row {key} column {name}: {values[i]!r} != {want[i]!r}"
    assert shown > 0, f"{control.id}: every cell was suppressed, so nothing was compared"


def test_small_rows_are_not_a_presence_oracle(corpus_trust: Trust) -> None:
    session = corpus_trust.session("ana", "demo-employment-support")
    # Were the row shown (even as [c]), it would be there only if someone in the Isles of Scilly
    # (3 claimants) gets more than X a month: repeated with other X, it would bracket their awards.
    some = session.sql(
        "SELECT la_code, count(*) AS n FROM dwp.uc_claims "
        "WHERE la_code = 'E06000053' AND award_amount > 5 GROUP BY la_code"
    )
    no_one = session.sql(
        "SELECT la_code, count(*) AS n FROM dwp.uc_claims "
        "WHERE la_code = 'E06000053' AND award_amount > 1e12 GROUP BY la_code"
    )
    assert some.table.num_rows == no_one.table.num_rows == 0  # "one to nine people" looks like "no one"
    assert some.report.to_json(figures=False) == no_one.report.to_json(figures=False)  # and nothing else differs
