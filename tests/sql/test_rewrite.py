"""Stage 6: the SQL that runs is generated from the checked tree, with obligations and companions."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from trust.catalog import Catalog
from trust.errors import NotAllowed
from trust.sql.describe import describe
from trust.sql.parse import parse
from trust.sql.protect import check_structure
from trust.sql.resolve import resolve
from trust.sql.rewrite import Plan, no_obligations, obligations_from, rewrite
from trust.sql.validate import validate

OPT_OUT = obligations_from(
    [{"dataset": "dwp.uc_claims", "expression": "NOT opted_out"}],
    [
        {
            "dataset": "hmrc.paye_employments",
            "column": "gross_pay",
            "expression": "CASE WHEN gross_pay > 20000 THEN 20000.0 ELSE gross_pay END",
        }
    ],
)


def _plan(sql: str, catalog: Catalog, obligations=OPT_OUT, **kwargs: int) -> Plan:
    parsed = parse(sql)
    validate(parsed)
    description = describe(resolve(parsed, catalog), catalog)
    check_structure(description)
    return rewrite(description, catalog, obligations, **kwargs)


def _leaves(plan: Plan) -> list[exp.Subquery]:
    tree = sqlglot.parse_one(plan.sql, read="duckdb")
    return [t.find_ancestor(exp.Subquery) for t in tree.find_all(exp.Table) if not isinstance(t.this, exp.Identifier)]


def _run(plan: Plan) -> list[dict]:
    """The plan's SQL run in DuckDB: every column, hidden ones included, per result row, sorted."""
    rows = duckdb.connect().execute(plan.sql).to_arrow_table().to_pylist()
    return sorted(rows, key=lambda r: repr([r[o.name] for o in plan.outputs]))


def test_generated_sql_is_a_fixed_point_and_carries_no_analyst_text(catalog: Catalog, local_catalog) -> None:
    sql = "select REGION, count(*) as N from DWP.UC_CLAIMS /* read_parquet('/etc/passwd') */ group by 1 -- x"
    plan = _plan(sql, catalog)
    tree = sqlglot.parse_one(plan.sql, read="duckdb")
    assert tree.sql("duckdb") == plan.sql
    assert "/etc/passwd" not in plan.sql and "/*" not in plan.sql and "--" not in plan.sql
    names = [p.alias_or_name for p in tree.expressions]
    assert names[:2] == ["region", "n"] and all(n.startswith("__") for n in names[2:])
    # and it computes the analyst's numbers: the opted-out claimant is filtered, the region key kept
    local = local_catalog(
        {
            "dwp.uc_claims": [
                {"person_id": "p1", "region": "R1", "opted_out": False},
                {"person_id": "p2", "region": "R1", "opted_out": False},
                {"person_id": "p3", "region": "R1", "opted_out": True},
                {"person_id": "p4", "region": "R2", "opted_out": False},
            ]
        }
    )
    assert [(r["region"], r["n"]) for r in _run(_plan(sql, local))] == [("R1", 2), ("R2", 1)]


def test_every_table_becomes_a_leaf_over_its_files_with_filters_and_masks(catalog: Catalog) -> None:
    plan = _plan(
        """WITH c AS (SELECT person_id, region FROM dwp.uc_claims)
                    SELECT c.region, sum(p.gross_pay) FROM c JOIN hmrc.paye_employments p ON p.person_id = c.person_id
                    GROUP BY 1""",
        catalog,
    )
    leaves = _leaves(plan)
    assert len(leaves) == 2
    text = {leaf.alias_or_name: leaf.this.sql("duckdb") for leaf in leaves}
    assert "READ_PARQUET(['http://127.0.0.1:9/dwp.uc_claims.parquet']" in text["uc_claims"]
    assert text["uc_claims"].endswith("WHERE (NOT opted_out)")
    assert 'CASE WHEN gross_pay > 20000 THEN 20000.0 ELSE gross_pay END AS "gross_pay"' in text["p"]
    assert plan.datasets == ("dwp.uc_claims", "hmrc.paye_employments")


def test_a_self_join_filters_both_sides(catalog: Catalog) -> None:
    plan = _plan(
        "SELECT a.region, count(*) FROM dwp.uc_claims a JOIN dwp.uc_claims b ON a.person_id = b.person_id GROUP BY 1",
        catalog,
    )
    assert plan.sql.count("WHERE (NOT opted_out)") == 2


CLAIMS = [
    {"person_id": "p1", "region": "R1"},
    {"person_id": "p2", "region": "R1"},
    {"person_id": "p3", "region": "R1"},
    {"person_id": "p4", "region": "R2"},
    {"person_id": "p5", "region": "R3"},
]
# p1 has three jobs, p2 and p4 one each; p3 and p5 none; p9 is not a claimant
JOBS = [{"person_id": p, "employer_id": f"e{i}"} for i, p in enumerate(["p1", "p1", "p1", "p2", "p4", "p9"])]


def test_units_companion_per_dataset(local_catalog) -> None:
    local = local_catalog({"dwp.uc_claims": CLAIMS, "hmrc.paye_employments": JOBS})
    plan = _plan(
        "SELECT u.region, count(*) AS n FROM dwp.uc_claims u JOIN hmrc.paye_employments p "
        "ON p.person_id = u.person_id GROUP BY 1",
        local,
        no_obligations(),
    )
    assert plan.unit_columns == ("__units_0", "__units_1") and plan.unit_labels == ("person_id", "person_id")
    got = [(r["region"], r["n"], r["__units_0"], r["__units_1"]) for r in _run(plan)]
    assert got == [("R1", 4, 2, 2), ("R2", 1, 1, 1)]  # four rows, but p1's three jobs count as one person


def test_left_join_side_counts_as_absent_not_zero(local_catalog) -> None:
    local = local_catalog({"dwp.uc_claims": CLAIMS, "hmrc.paye_employments": JOBS})
    plan = _plan(
        "SELECT u.region, count(*) AS n FROM dwp.uc_claims u LEFT JOIN hmrc.paye_employments p "
        "ON p.person_id = u.person_id GROUP BY 1",
        local,
        no_obligations(),
    )
    got = [(r["region"], r["n"], r["__units_0"], r["__units_1"]) for r in _run(plan)]
    assert got == [("R1", 5, 3, 2), ("R2", 1, 1, 1), ("R3", 1, 1, None)]  # no one matched in R3: absent, not 0


def test_conditional_aggregate_counts_every_part(catalog: Catalog) -> None:
    plan = _plan(
        "SELECT region, count(*) AS n, sum(CASE WHEN sex = 'F' THEN 1 ELSE 0 END) AS women "
        "FROM dwp.uc_claims GROUP BY 1",
        catalog,
        no_obligations(),
    )
    # the dataset's units, then parts 0 (NULL), 1 (women) and 2 (everyone else)
    assert len(plan.unit_columns) == 4
    assert [label.split(" in part ")[1][:1] for label in plan.unit_labels[1:]] == ["0", "1", "2"]
    assert plan.cell_units == (("__units_0",), ("__units_0",), ("__units_0", "__units_1", "__units_2", "__units_3"))


def test_units_thread_through_derived_tables_and_unions(local_catalog) -> None:
    local = local_catalog(
        {
            "dwp.uc_claims": [
                {"person_id": "p1", "region": "R1", "sex": "F", "age_band": "25-34"},
                {"person_id": "p2", "region": "R1", "sex": "F", "age_band": "65+"},
                {"person_id": "p3", "region": "R1", "sex": "M", "age_band": "65+"},
                {"person_id": "p4", "region": "R2", "sex": "M", "age_band": "16-24"},
            ]
        }
    )
    plan = _plan(
        """SELECT region, count(*) AS n FROM (
                      SELECT region, person_id FROM dwp.uc_claims WHERE sex = 'F'
                      UNION ALL SELECT region, person_id FROM dwp.uc_claims WHERE age_band = '65+') t GROUP BY 1""",
        local,
        no_obligations(),
    )
    assert plan.sql.count('"person_id" AS "__unit_') == 2  # each branch passes its unit up
    # p2 is in both branches: two rows, one person
    assert [(r["region"], r["n"], r["__units_0"]) for r in _run(plan)] == [("R1", 4, 3)]


def test_distinct_derived_table_keeps_its_unit(catalog: Catalog) -> None:
    plan = _plan(
        "SELECT u.region, count(*) FROM dwp.uc_claims u JOIN (SELECT DISTINCT person_id FROM "
        "hmrc.paye_employments) e ON e.person_id = u.person_id GROUP BY 1",
        catalog,
        no_obligations(),
    )
    assert (
        'SELECT DISTINCT "paye_employments"."person_id" AS "person_id", "paye_employments"."person_id" AS' in plan.sql
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, count(*) FROM (SELECT DISTINCT region, la_code FROM dwp.uc_claims) t GROUP BY 1",
        "SELECT region, count(*) FROM (SELECT region FROM dwp.uc_claims UNION SELECT region FROM dwp.uc_claims) t "
        "GROUP BY 1",
        "SELECT region, count(*) FROM (SELECT region FROM dwp.uc_claims UNION ALL SELECT 'x') t GROUP BY 1",
        "SELECT region, count(*) FROM (SELECT region FROM dwp.uc_claims UNION ALL SELECT region FROM "
        "desnz.businesses) t GROUP BY 1",
    ],
)
def test_untraceable_units_are_refused(sql: str, catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _plan(sql, catalog, no_obligations())
    assert info.value.rule == "untraceable_units"


def test_casts_never_fail_on_data(local_catalog) -> None:
    local = local_catalog(
        {
            "dwp.uc_claims": [
                {"person_id": "p1", "region": "R1", "la_code": "E06000053"},
                {"person_id": "p2", "region": "R1", "la_code": "12"},
            ]
        }
    )
    plan = _plan(
        "SELECT region, count(*) AS n FROM dwp.uc_claims WHERE CAST(la_code AS INTEGER) > 0 "
        "AND la_code::DATE > DATE '2020-01-01' GROUP BY 1",
        local,
        no_obligations(),
    )
    tree = sqlglot.parse_one(plan.sql, read="duckdb")
    where = next(w for w in tree.find_all(exp.Where) if any(c.name == "la_code" for c in w.find_all(exp.Column)))
    assert not [c for c in where.find_all(exp.Cast) if type(c) is exp.Cast]
    assert len(list(where.find_all(exp.TryCast))) == 3
    assert _run(plan) == []  # 'E06000053' is not a number and '12' not a date: no rows, and no error naming them


def test_whole_number_arithmetic_runs_in_floating_point(catalog: Catalog) -> None:
    plan = _plan(
        "SELECT sic_section, count(*) FROM desnz.businesses WHERE employee_count * employee_count * 3 > 0 GROUP BY 1",
        catalog,
        no_obligations(),
    )
    where = plan.sql.split(" WHERE ")[-1]
    assert where.count("TRY_CAST(") >= 2 and "AS DOUBLE)" in where


def test_date_difference_stays_a_date_difference(catalog: Catalog) -> None:
    plan = _plan(
        "SELECT region, count(*) FROM dwp.uc_claims WHERE DATE '2025-04-01' - claim_start > 365 GROUP BY 1",
        catalog,
        no_obligations(),
    )
    assert "AS DOUBLE" not in plan.sql.split(" WHERE ")[-1]


def test_output_names_come_from_the_analysts_text(catalog: Catalog) -> None:
    plan = _plan(
        "SELECT upper(region), count(*), count(*) AS n, sum(award_amount) AS n FROM dwp.uc_claims GROUP BY 1 "
        "ORDER BY 1",
        catalog,
        no_obligations(),
    )
    assert [o.name for o in plan.outputs] == ["upper(region)", "count(*)", "n", "n_2"]
    assert [o.kind for o in plan.outputs] == ["group_key", "aggregate", "aggregate", "aggregate"]
    assert plan.sql.endswith('ORDER BY "upper(region)"')  # the position was renamed with its column


def test_row_limit_lets_disclosure_control_see_an_oversized_result(catalog: Catalog) -> None:
    sql = "SELECT la_code, count(*) FROM dwp.uc_claims GROUP BY 1"
    assert _plan(sql, catalog, no_obligations(), max_rows=100).sql.endswith("LIMIT 101")
    assert _plan(sql + " ORDER BY 1 LIMIT 5", catalog, no_obligations(), max_rows=100).sql.endswith("LIMIT 5")
    assert "LIMIT" not in _plan(sql, catalog, no_obligations()).sql


def test_a_query_reading_no_dataset_is_refused(catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _plan("SELECT count(*) AS n", catalog, no_obligations())
    assert info.value.rule == "no_dataset"


def test_policy_expressions_are_checked(catalog: Catalog) -> None:
    bad = obligations_from([{"dataset": "dwp.uc_claims", "expression": "nino IN (SELECT 1)"}], [])
    with pytest.raises(NotAllowed) as info:
        _plan("SELECT region, count(*) FROM dwp.uc_claims GROUP BY 1", catalog, bad)
    assert info.value.rule == "policy_expression"


def test_a_definition_is_what_selects_the_units_not_how_it_is_written(catalog: Catalog) -> None:
    def definitions(sql: str) -> tuple[str, ...]:
        return _plan(sql, catalog, no_obligations()).definitions

    base = definitions("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region")
    # other names, other statistics, an order: the same groups of the same people
    assert definitions("SELECT u.region AS r, avg(award_amount) FROM dwp.uc_claims u GROUP BY 1 ORDER BY 1") == base
    assert (
        definitions(
            "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region UNION ALL "
            "SELECT 'all', count(*) FROM dwp.uc_claims"
        )[0]
        == base[0]
    )
    # another WHERE, or the same outer query over another CTE, selects other people
    assert definitions("SELECT region, count(*) FROM dwp.uc_claims WHERE la_code <> 'X' GROUP BY region") != base
    with_all = definitions("WITH t AS (SELECT * FROM dwp.uc_claims) SELECT region, count(*) FROM t GROUP BY region")
    with_some = definitions(
        "WITH t AS (SELECT * FROM dwp.uc_claims WHERE sex = 'F') SELECT region, count(*) FROM t GROUP BY region"
    )
    assert with_all != with_some
