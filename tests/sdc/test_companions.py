"""The two-level companion query gives exactly the analyst's numbers, and the right per-unit figures."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from trust.catalog import Catalog, FileFooter, load_catalog
from trust.config import REPO_ROOT
from trust.sql.companions import Unavailable, _Branch
from trust.sql.describe import describe
from trust.sql.parse import parse
from trust.sql.resolve import resolve
from trust.sql.rewrite import no_obligations, rewrite
from trust.sql.validate import validate

TYPES = {
    "award_amount": "DOUBLE",
    "gross_pay": "DOUBLE",
    "tax_paid": "DOUBLE",
    "tax_month": "SMALLINT",
    "turnover": "DOUBLE",
    "employee_count": "INTEGER",
    "opted_out": "BOOLEAN",
    "claim_start": "DATE",
    "date_of_birth": "DATE",
    "award_start": "DATE",
    "weekly_amount": "DOUBLE",
    "achieved": "BOOLEAN",
}


UC = {
    "person_id": "'p' || (i % 900)",
    "sex": "CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END",
    "la_code": "'E0' || (i % 7)",
    "region": "'E12' || (i % 3)",
    "claim_start": "DATE '2024-01-01' + (i % 30)::INT",
    "award_amount": "CASE WHEN i % 11 = 0 THEN NULL WHEN i = 5 THEN -40.0 ELSE (i % 97) * 1.5 END",
    "opted_out": "i % 13 = 0",
}
PAYE = {
    "person_id": "'p' || (i % 1500)",
    "employer_id": "'e' || (i % 40)",
    "tax_year": "'2024-25'",
    "tax_month": "(i % 12)::SMALLINT",
    "gross_pay": "(i % 1000) * 2.0 + CASE WHEN i = 7 THEN 100000 ELSE 0 END",
}


def _extract(con: duckdb.DuckDBPyConnection, ds, values: dict[str, str], rows: int, path: Path) -> None:
    """A file with every registered column: the interesting ones from ``values``, the rest constant."""
    cols = []
    for c in ds.columns:
        typ = TYPES.get(c.name, "VARCHAR")
        default = {"DOUBLE": "1.0", "SMALLINT": "1", "INTEGER": "1", "BOOLEAN": "false", "DATE": "DATE '2000-01-01'"}
        cols.append(f"CAST({values.get(c.name, default.get(typ, repr('x')))} AS {typ}) AS {c.name}")
    con.execute(f"COPY (SELECT {', '.join(cols)} FROM range({rows}) t(i)) TO '{path}'")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    d = tmp_path_factory.mktemp("companions")
    registered = {ds.id: ds for ds in load_catalog(REPO_ROOT / "catalog")}
    con = duckdb.connect()
    _extract(con, registered["dwp.uc_claims"], UC, 6000, d / "uc.parquet")
    _extract(con, registered["hmrc.paye_employments"], PAYE, 9000, d / "paye.parquet")
    files = {"dwp.uc_claims": d / "uc.parquet", "hmrc.paye_employments": d / "paye.parquet"}
    out = {}
    for ds in registered.values():
        cols = tuple(dataclasses.replace(c, type=TYPES.get(c.name, "VARCHAR")) for c in ds.columns)
        url = str(files.get(ds.id, d / "missing.parquet"))
        out[ds.id] = dataclasses.replace(ds, columns=cols, files=(FileFooter(url, 1, 1, 1, 1, (), "x"),))
    return Catalog(out)


def _plans(sql: str, catalog: Catalog):
    """The SQL rewrite makes (with the companion statistics), its plan and its companions."""
    parsed = parse(sql)
    validate(parsed)
    description = describe(resolve(parsed, catalog), catalog)
    plan = rewrite(description, catalog, no_obligations())
    return plan.sql, plan, plan.companions


QUERIES = [
    "SELECT region, count(*) AS n, sum(award_amount) AS s, avg(award_amount) AS a FROM dwp.uc_claims GROUP BY region",
    "SELECT region, count(award_amount) AS n, count(DISTINCT person_id) AS people FROM dwp.uc_claims GROUP BY region",
    "SELECT region, min(award_amount) AS lo, max(claim_start) AS hi FROM dwp.uc_claims GROUP BY region",
    "SELECT region, sex, count(*) AS n FROM dwp.uc_claims WHERE NOT opted_out GROUP BY region, sex "
    "HAVING count(*) > 5 ORDER BY n DESC, region",
    "SELECT CASE WHEN award_amount > 50 THEN 'high' ELSE 'low' END AS band, sum(award_amount) AS s "
    "FROM dwp.uc_claims GROUP BY 1 ORDER BY 1",
    "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY ALL",
    "SELECT count(*) AS n, sum(award_amount) AS s, avg(award_amount) AS a FROM dwp.uc_claims WHERE region = 'nowhere'",
    "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region UNION ALL SELECT 'Total', count(*) FROM dwp.uc_claims",
    "SELECT u.region, count(DISTINCT u.person_id) AS people, sum(p.gross_pay) AS pay FROM dwp.uc_claims u "
    "JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region ORDER BY u.region",
    "SELECT u.region, count(*) AS n, sum(p.gross_pay) AS pay FROM dwp.uc_claims u "
    "LEFT JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region",
    "WITH w AS (SELECT person_id, region, award_amount FROM dwp.uc_claims WHERE sex = 'F') "
    "SELECT region, sum(award_amount) AS s, sum(award_amount) / count(*) AS ratio FROM w GROUP BY region",
    "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY region, sex UNION ALL SELECT region, 'All', count(*) "
    "FROM dwp.uc_claims GROUP BY region UNION ALL SELECT 'All', sex, count(*) FROM dwp.uc_claims GROUP BY sex "
    "UNION ALL SELECT 'All', 'All', count(*) FROM dwp.uc_claims",
]
# Aggregates that would need per-unit lists: run as written, their sums and averages go to review.
FALLBACK = [
    "SELECT tax_month, count(DISTINCT employer_id) AS employers, sum(gross_pay) AS pay FROM hmrc.paye_employments "
    "GROUP BY 1",
    "SELECT region, median(award_amount) AS m, quantile_cont(award_amount, 0.25) AS q FROM dwp.uc_claims GROUP BY region",
    "SELECT tax_month, sum(DISTINCT gross_pay) AS d FROM hmrc.paye_employments GROUP BY 1",
]


def _close(a, b) -> bool:
    if isinstance(a, (float, Decimal)) and isinstance(b, (float, Decimal)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _direct(catalog: Catalog) -> duckdb.DuckDBPyConnection:
    """The datasets as plain DuckDB views: the analyst's SQL run without the trust, for reference."""
    con = duckdb.connect()
    for ds_id in ("dwp.uc_claims", "hmrc.paye_employments"):
        schema, name = ds_id.split(".")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"CREATE VIEW {ds_id} AS SELECT * FROM read_parquet('{catalog.get(ds_id).files[0].url}')")
    return con


@pytest.mark.parametrize("sql", QUERIES + FALLBACK)
def test_the_analysts_numbers_are_unchanged(sql, catalog):
    governed, plan, companions = _plans(sql, catalog)
    assert companions.single_scan is (sql not in FALLBACK)
    got = duckdb.connect().execute(governed).to_arrow_table()
    want = _direct(catalog).execute(sql).to_arrow_table()
    names = [o.name for o in plan.outputs]
    assert got.num_rows == want.num_rows
    for name, theirs in zip(names, want.column_names):
        assert got.schema.field(name).type == want.schema.field(theirs).type, name

    def exact_part(row: tuple) -> str:
        return repr([x for x in row if not isinstance(x, (float, Decimal))])

    rows_got = sorted((tuple(r[n] for n in names) for r in got.to_pylist()), key=exact_part)
    rows_want = sorted((tuple(r.values()) for r in want.to_pylist()), key=exact_part)
    for a, b in zip(rows_got, rows_want, strict=True):
        assert all(_close(x, y) for x, y in zip(a, b)), (a, b)
    if "ORDER BY" in sql:
        assert [r[names[0]] for r in got.to_pylist()] == [r[want.column_names[0]] for r in want.to_pylist()]


def test_a_fallback_has_no_per_unit_contributions(catalog):
    governed, _plan, companions = _plans(FALLBACK[0], catalog)
    rows = duckdb.connect().execute(governed).to_arrow_table().to_pylist()
    assert all(r[companions.contributions[0].top] is None and r[companions.population] is None for r in rows)


def test_per_unit_figures(catalog):
    governed, plan, companions = _plans(
        "SELECT region, sum(award_amount) AS s FROM dwp.uc_claims GROUP BY region", catalog
    )
    (c,) = companions.contributions
    got = {r["region"]: r for r in duckdb.connect().execute(governed).to_arrow_table().to_pylist()}
    path = catalog.get("dwp.uc_claims").files[0].url
    per_unit = (
        duckdb.connect().execute(f"SELECT region, person_id, sum(award_amount) s FROM '{path}' GROUP BY ALL").fetchall()
    )
    for region, row in got.items():
        subtotals = sorted((float(s) for r, _p, s in per_unit if r == region and s is not None), reverse=True)
        assert row[c.top] == pytest.approx(subtotals[:10])
        assert row[c.total] == pytest.approx(sum(subtotals))
        assert row[c.negative] == any(s < 0 for s in subtotals)
        assert row[c.contributors] == sum(1 for s in subtotals if s != 0)
        assert len(row[companions.population].split(",")) == len({p for r, p, _s in per_unit if r == region})


def test_dominance_is_measured_in_the_measures_own_units(catalog):
    governed, _plan, companions = _plans(
        "SELECT u.region, sum(p.gross_pay) AS pay FROM dwp.uc_claims u JOIN hmrc.paye_employments p "
        "ON u.person_id = p.person_id GROUP BY u.region",
        catalog,
    )
    assert companions.unit_label == "person_id"
    assert 'MD5(CAST(("p"."person_id") AS TEXT)), 1, 16)) AS UBIGINT) END AS "__sdc_u"' in governed


def test_union_branches_and_totals(catalog):
    governed, _plan, companions = _plans(
        "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY region, sex "
        "UNION ALL SELECT region, NULL, count(*) FROM dwp.uc_claims GROUP BY region "
        "UNION ALL SELECT 'All', 'All', count(*) FROM dwp.uc_claims",
        catalog,
    )
    assert companions.totals == ((False, False, False), (False, True, False), (True, True, False))
    rows = duckdb.connect().execute(governed).to_arrow_table().to_pylist()
    assert {r[companions.branch] for r in rows} == {0, 1, 2}


def test_a_select_that_cannot_be_reaggregated_falls_back(catalog):
    select = parse("SELECT region, count(*) FROM t GROUP BY ROLLUP (region)").tree
    with pytest.raises(Unavailable):
        _Branch(select, exp.column("person_id"))


def test_a_join_on_the_unit_key_groups_its_people_once(catalog):
    sql = (
        "SELECT u.region, count(DISTINCT u.person_id) AS people, sum(p.gross_pay) AS pay FROM dwp.uc_claims u "
        "JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region"
    )
    governed, _plan, companions = _plans(sql, catalog)
    assert "GROUPING SETS" not in governed.upper()  # u.person_id and p.person_id are one unit, not two kinds
    got = {r["region"]: r for r in duckdb.connect().execute(governed).to_arrow_table().to_pylist()}
    people = dict(
        _direct(catalog)
        .execute(
            "SELECT u.region, count(DISTINCT u.person_id) FROM dwp.uc_claims u "
            "JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY 1"
        )
        .fetchall()
    )
    assert {r: len(row[companions.population].split(",")) for r, row in got.items()} == people


def test_a_left_join_keeps_the_other_tables_people_a_kind_of_their_own(catalog):
    governed, _plan, _companions = _plans(
        "SELECT u.region, sum(p.gross_pay) AS pay FROM dwp.uc_claims u "
        "LEFT JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region",
        catalog,
    )
    assert "GROUPING SETS" in governed.upper()


JOINED = [
    "SELECT u.region, count(DISTINCT u.person_id) AS people, sum(p.gross_pay) AS pay FROM dwp.uc_claims u "
    "JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region",
    "SELECT u.region, u.sex, count(*) AS n, avg(p.gross_pay) AS pay, count(p.gross_pay) AS c, sum(u.award_amount) AS a "
    "FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON u.person_id = p.person_id "
    "WHERE p.tax_month > 3 AND u.sex = 'F' GROUP BY 1, 2",
    "SELECT p.tax_month, sum(u.award_amount) AS a, count(DISTINCT p.person_id) AS people FROM dwp.uc_claims u "
    "JOIN hmrc.paye_employments p ON p.person_id = u.person_id GROUP BY 1",
    "SELECT count(*) AS n, sum(p.gross_pay) AS pay FROM hmrc.paye_employments p JOIN dwp.uc_claims u "
    "ON u.person_id = p.person_id WHERE u.award_amount > 20",
    "SELECT u.region, sum(p.gross_pay) AS pay FROM dwp.uc_claims u JOIN hmrc.paye_employments p "
    "ON u.person_id = p.person_id WHERE p.gross_pay > u.award_amount GROUP BY 1",  # a condition over both sides
]


@pytest.mark.parametrize("sql", JOINED)
def test_aggregating_one_side_of_a_join_first_changes_no_figure(sql, catalog, monkeypatch):
    """Every column the engine returns, hidden companions included, is the same whether the measured
    side of a join on the unit key is aggregated per unit before the join or not."""
    import trust.sql.companions as companions

    governed, _plan, _ = _plans(sql, catalog)
    monkeypatch.setattr(companions, "preaggregate", lambda inner: inner)
    joined_first, _plan, _ = _plans(sql, catalog)
    assert ("__sdc_n" in governed) is ("p.gross_pay > u.award_amount" not in sql)  # not over both sides
    key = {"trust_key": "k"} if "$trust_key" in governed else None
    got = duckdb.connect().execute(governed, key).to_arrow_table()
    want = duckdb.connect().execute(joined_first, key).to_arrow_table()
    assert got.schema == want.schema
    first = got.column_names[0]
    rows_got = sorted(got.to_pylist(), key=lambda r: repr(r[first]))
    rows_want = sorted(want.to_pylist(), key=lambda r: repr(r[first]))
    assert len(rows_got) == len(rows_want) > 0
    for a, b in zip(rows_got, rows_want):
        for name in got.column_names:
            if isinstance(a[name], list):
                assert a[name] == pytest.approx(b[name], rel=1e-9), name
            elif name == companions.PREFIX + "population" and a[name] is not None:  # a set, listed in any order
                assert sorted(a[name].split(",")) == sorted(b[name].split(","))
            else:
                assert _close(a[name], b[name]), (name, a[name], b[name])
