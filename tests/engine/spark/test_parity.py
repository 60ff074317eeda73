"""The same governed queries on Spark publish exactly what DuckDB publishes.

Two trusts over the same department servers, one on each engine, sharing the record-key secret (so
perturbation is the same): every control query of the gatekeeper corpus, with noise and with
suppression, publishes the same protected table on both (the same rows, the same cells shown,
suppressed and perturbed, the same values: counts exact, other numbers within 1e-9 relative). Every
adversarial case has the same outcome on Spark as on DuckDB (the same refusal, or the same protected
table), so what ``tests/sql/test_corpus.py`` proves safe on DuckDB holds on Spark. Every disclosure
casebook case judged from Spark's companion statistics gives DuckDB's statuses and values.
"""

from __future__ import annotations

import math
import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sdc import casebook
from trust.demo.environment import configure_home, seed_users
from trust.errors import TrustError
from trust.service import Trust

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sql"))
from corpus_cases import load_cases, load_controls  # noqa: E402

CONTROLS = load_controls()
CASES = load_cases()
TIMEOUT_S = 20.0  # long enough for Spark's slowest control query; the resource cases reach it on both engines


def _pair(departments: Any, root: Path, **settings: Any) -> tuple[Trust, Trust]:
    """A DuckDB trust and a Spark trust with the same users, policies and record-key secret."""
    duck_home, spark_home = root / "duckdb", root / "spark"
    duck_home.mkdir()
    configure_home(duck_home, departments.endpoints, query_timeout_s=TIMEOUT_S, **settings)
    duck = Trust.open(duck_home)
    seed_users(duck)
    duck.queries.record_key_secret()  # made now, so the copy below holds the same secret
    shutil.copytree(duck_home, spark_home)
    configure_home(spark_home, departments.endpoints, query_timeout_s=TIMEOUT_S, engine="spark", **settings)
    spark = Trust.open(spark_home)
    assert spark.queries.engine.name == "spark" and duck.queries.engine.name == "duckdb"
    assert spark.queries.record_key_secret() == duck.queries.record_key_secret()
    return duck, spark


@pytest.fixture(scope="module")
def noisy(departments, tmp_path_factory, spark) -> tuple[Trust, Trust]:
    return _pair(departments, tmp_path_factory.mktemp("parity-noise"))


@pytest.fixture(scope="module")
def suppressing(departments, tmp_path_factory, suppressing_policies, spark) -> tuple[Trust, Trust]:
    return _pair(departments, tmp_path_factory.mktemp("parity-suppress"), policies_dir=str(suppressing_policies))


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _number(a), _number(b)
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _published(trust: Trust, user: str, project: str, sql: str) -> tuple[str, Any]:
    """What the analyst receives (rows, with suppressed cells marked), and every cell's status."""
    try:
        out = trust.session(user, project).sql(sql)
    except TrustError as exc:
        return "refused", (type(exc).__name__, exc.context.get("rule"), exc.message)
    stored = trust.queries.output("carol", out.id)
    statuses = sorted((c.row, c.column, c.status.value, c.rule or "") for c in stored.report.cells)
    return "published", (out.columns, out.rows(), statuses, stored.engine, out.id)


def _assert_same(case_id: str, duck: tuple[str, Any], spark: tuple[str, Any]) -> None:
    assert duck[0] == spark[0], f"{case_id}: DuckDB {duck[0]} {duck[1]!r:.300}, Spark {spark[0]} {spark[1]!r:.300}"
    if duck[0] == "refused":
        assert duck[1] == spark[1], f"{case_id}: refused differently: {duck[1]} vs {spark[1]}"
        return
    columns, rows, statuses, engine, _ = duck[1]
    s_columns, s_rows, s_statuses, s_engine, _ = spark[1]
    assert (engine, s_engine) == ("duckdb", "spark")
    assert columns == s_columns, case_id
    assert len(rows) == len(s_rows), f"{case_id}: {len(rows)} rows on DuckDB, {len(s_rows)} on Spark"
    # Rows in the order each engine gave them where the query set none: compared as sorted rows,
    # each with its cells' statuses.
    for a, b in zip(_rows_with_status(rows, statuses), _rows_with_status(s_rows, s_statuses)):
        _same_row(a, b, columns, case_id)


def _rows_with_status(rows: list[tuple[Any, ...]], statuses: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    by_row: dict[int, list[tuple[str, str, str]]] = {}
    for r, column, status, rule in statuses:
        by_row.setdefault(r, []).append((column, status, rule))
    out = [(tuple(_number(v) for v in row), tuple(sorted(by_row.get(r, [])))) for r, row in enumerate(rows)]
    return sorted(out, key=lambda x: (tuple(f"{v:.6g}" if isinstance(v, float) else repr(v) for v in x[0]), x[1]))


def _same_row(a: tuple[Any, ...], b: tuple[Any, ...], columns: list[str], case_id: str) -> None:
    (values, statuses), (s_values, s_statuses) = a, b
    assert statuses == s_statuses, f"{case_id}: cell statuses differ: {statuses} vs {s_statuses}"
    for name, x, y in zip(columns, values, s_values):
        assert _same(x, y), f"{case_id}: {name}: DuckDB {x!r}, Spark {y!r} (row {values})"


@pytest.mark.parametrize("mode", ["noisy", "suppressing"], ids=["noise", "suppression"])
@pytest.mark.parametrize("control", CONTROLS, ids=[c.id for c in CONTROLS])
def test_control_query_publishes_the_same(control, mode, request) -> None:
    duck, spark = request.getfixturevalue(mode)
    _assert_same(
        control.id,
        _published(duck, control.user, control.project, control.sql),
        _published(spark, control.user, control.project, control.sql),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case_has_the_same_outcome(case, noisy) -> None:
    """The same refusal or the same table; or, where DuckDB's stricter types refuse what Spark reads (a
    year() of text, an impossible date literal), a Spark output as safe as test_corpus requires."""
    duck, spark = noisy
    on_duckdb = _published(duck, case.user, case.project, case.sql)
    on_spark = _published(spark, case.user, case.project, case.sql)
    if on_duckdb[0] == "refused" and on_duckdb[1][0] == "QueryFailed" and on_spark[0] == "published":
        _assert_safe(case.id, spark, on_spark[1])
        return
    _assert_same(case.id, on_duckdb, on_spark)


IDENTIFIER_LIKE = (
    re.compile(r"^p[0-9a-f]{15}$"),  # person_id
    re.compile(r"^E9?\d{7}$"),  # employer_id
    re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$"),  # NINO
)


def _assert_safe(case_id: str, trust: Trust, published: Any) -> None:
    _columns, rows, _statuses, _engine, output_id = published
    stored = trust.queries.output("carol", output_id)
    threshold = stored.decision["obligations"]["disclosure"]["min_units"]
    small = [c for c in stored.report.cells if c.status.value == "ok" and (c.units is None or c.units < threshold)]
    assert not small, f"{case_id}: cells shown from fewer than {threshold} units on Spark: {small[:3]}"
    for row in rows:
        for value in row:
            assert not any(p.match(str(value)) for p in IDENTIFIER_LIKE), f"{case_id}: identifier-like {value!r}"


@pytest.mark.parametrize("case", casebook.all_cases(), ids=lambda c: c.id)
def test_casebook_case_judged_the_same_on_spark(case, tmp_path, spark) -> None:
    on_spark = casebook.run_spark(case, tmp_path / "spark", spark)
    casebook.check(case, on_spark, "spark")
    (tmp_path / "duckdb").mkdir()
    on_duckdb = casebook.run_duckdb(case, tmp_path / "duckdb")
    for n, (spec, d, s) in enumerate(zip(case.outputs, on_duckdb, on_spark)):
        assert d.table.column_names == s.table.column_names
        assert d.table.num_rows == s.table.num_rows, f"{case.id} output {n}: row counts differ"
        rows = {casebook.row_label(s, spec, r): r for r in range(s.table.num_rows)}
        s_cells = {(c.row, c.column): c for c in s.report.cells}
        for d_cell in d.report.cells:
            s_cell = s_cells[(rows[casebook.row_label(d, spec, d_cell.row)], d_cell.column)]
            assert (d_cell.status, d_cell.rule) == (s_cell.status, s_cell.rule), f"{case.id} output {n}: {d_cell}"
        for r in range(d.table.num_rows):
            sr = rows[casebook.row_label(d, spec, r)]
            for c, name in enumerate(d.table.column_names):
                a, b = d.table.column(name)[r].as_py(), s.table.column(name)[sr].as_py()
                assert d.suppressed[c][r] == s.suppressed[c][sr], f"{case.id} output {n} row {r} {name}"
                assert _same(a, b), f"{case.id} output {n} {name}: DuckDB {a!r}, Spark {b!r}"
