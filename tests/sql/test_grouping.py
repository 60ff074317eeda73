"""ROLLUP, CUBE and GROUPING SETS: spelled out as a UNION ALL of plain GROUP BYs before resolve.

The expanded plan must give DuckDB's own numbers for the analyst's SQL, and disclosure control
must see each total as the sum of its parts (so a suppressed part is not left recoverable).
"""

from __future__ import annotations

import collections
import math
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from trust.catalog import Catalog
from trust.errors import NotAllowed, QueryRejected
from trust.sdc.parameters import Parameters
from trust.sdc.protect import protect
from trust.sql.describe import describe
from trust.sql.grouping import MAX_SETS, expand
from trust.sql.parse import parse
from trust.sql.protect import check_structure
from trust.sql.resolve import resolve
from trust.sql.rewrite import Plan, no_obligations, rewrite
from trust.sql.validate import validate

REGIONS = {"N": {"F": 3, "M": 4}, "S": {"F": 5, "M": 1}, "W": {"F": 2}}
AGE_BANDS = ("16-24", "25-49", "50+")


def _claims() -> list[dict[str, Any]]:
    rows = []
    i = 0
    for region, by_sex in REGIONS.items():
        for sex, n in by_sex.items():
            for _ in range(n):
                i += 1
                rows.append(
                    {
                        "person_id": f"p{i:03d}",
                        "region": region,
                        "sex": sex,
                        "age_band": AGE_BANDS[i % 3],
                        "la_code": f"E0{i % 2}",
                        "award_amount": 100.0 + 7 * i,
                        "opted_out": False,
                    }
                )
    return rows


def _paye() -> list[dict[str, Any]]:
    return [
        {
            "person_id": f"p{i:03d}",
            "pay_frequency": ("weekly", "monthly")[i % 2],
            "gross_pay": 1000.0 + 13 * i,
            "tax_month": 1,
        }
        for i in range(1, 15)
    ]


@pytest.fixture()
def data(local_catalog) -> Catalog:
    return local_catalog({"dwp.uc_claims": _claims(), "hmrc.paye_employments": _paye()})


def _plan(sql: str, catalog: Catalog) -> Plan:
    parsed = parse(sql)
    validate(parsed)
    description = describe(resolve(parsed, catalog), catalog)
    check_structure(description)
    return rewrite(description, catalog, no_obligations())


def _value(v: Any) -> Any:
    return round(float(v), 6) if isinstance(v, float) else v


def _ours(sql: str, catalog: Catalog) -> list[tuple[Any, ...]]:
    plan = _plan(sql, catalog)
    table = duckdb.connect().execute(plan.sql).to_arrow_table()
    return [tuple(_value(table.column(o.name)[r].as_py()) for o in plan.outputs) for r in range(table.num_rows)]


def _direct(sql: str, catalog: Catalog) -> list[tuple[Any, ...]]:
    """The analyst's SQL as DuckDB itself runs it, ROLLUP and all, over the same Parquet files."""
    con = duckdb.connect()
    for ds in catalog:
        if not ds.files[0].url.startswith("http"):
            schema, table = ds.id.split(".")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(f"CREATE VIEW {ds.id} AS SELECT * FROM read_parquet('{ds.files[0].url}')")
    return [tuple(_value(v) for v in row) for row in con.execute(sql).fetchall()]


def _expanded(sql: str) -> exp.Query:
    return expand(parse(sql)).tree


SAME_AS_DUCKDB = {
    "rollup": "SELECT region, sex, count(*) AS n, sum(award_amount) AS total, avg(award_amount) AS mean "
    "FROM dwp.uc_claims GROUP BY ROLLUP (region, sex)",
    "cube": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY CUBE (region, sex)",
    "cube-three": "SELECT region, sex, age_band, count(*) AS n FROM dwp.uc_claims GROUP BY CUBE (region, sex, age_band)",
    "grouping-sets": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY GROUPING SETS ((region, sex), (region), ())",
    "grouping-sets-disjoint": "SELECT region, sex, count(*) FROM dwp.uc_claims GROUP BY GROUPING SETS ((region), (sex))",
    "grouping-sets-nested": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY GROUPING SETS (ROLLUP (region, sex), (sex))",
    "mixture": "SELECT region, sex, age_band, count(*) AS n FROM dwp.uc_claims GROUP BY region, ROLLUP (sex, age_band)",
    "two-rollups": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region), ROLLUP (sex)",
    "composite": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP ((region, sex))",
    "positions": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (1, 2)",
    "qualified": "SELECT u.region, u.sex, count(*) AS n FROM dwp.uc_claims AS u GROUP BY ROLLUP (u.region, sex)",
    "expression-key": "SELECT upper(region) AS r, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (upper(region))",
    "grouping-label": "SELECT CASE WHEN GROUPING(region) = 1 THEN 'All regions' ELSE region END AS region, "
    "coalesce(sex, 'Both') AS sex, GROUPING(region, sex) AS g, GROUPING_ID(sex) AS gs, count(*) AS n "
    "FROM dwp.uc_claims GROUP BY CUBE (region, sex)",
    "having-whole-levels": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex) "
    "HAVING GROUPING(sex) = 0 OR GROUPING(region) = 1",
    "having-one-set": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY GROUPING SETS ((region, sex)) "
    "HAVING count(*) >= 3 AND GROUPING(sex) = 0",
    "cte": "WITH c AS (SELECT person_id, region, sex FROM dwp.uc_claims WHERE award_amount > 120) "
    "SELECT region, sex, count(DISTINCT person_id) AS people FROM c GROUP BY ROLLUP (region, sex)",
    "join": "SELECT u.region, p.pay_frequency, count(*) AS jobs, sum(p.gross_pay) AS pay FROM dwp.uc_claims AS u "
    "JOIN hmrc.paye_employments AS p ON p.person_id = u.person_id GROUP BY CUBE (u.region, p.pay_frequency)",
    "union-branch": "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region) "
    "UNION ALL SELECT sex, count(*) FROM dwp.uc_claims GROUP BY sex",
    "grouping-without-sets": "SELECT region, GROUPING(region) AS g, count(*) AS n FROM dwp.uc_claims GROUP BY region",
    "single-set": "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY GROUPING SETS ((region))",
    "where": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims WHERE age_band <> '50+' GROUP BY ROLLUP (region, sex)",
}


@pytest.mark.parametrize("sql", SAME_AS_DUCKDB.values(), ids=SAME_AS_DUCKDB.keys())
def test_expanded_plan_gives_duckdbs_own_numbers(sql: str, data: Catalog) -> None:
    ours, direct = _ours(sql, data), _direct(sql, data)
    assert collections.Counter(ours) == collections.Counter(direct), (
        sorted(map(repr, ours)),
        sorted(map(repr, direct)),
    )


@pytest.mark.parametrize(
    "order", ["region, sex", "sex DESC, region", "1, 2 DESC", "g DESC, region, sex", "region NULLS FIRST, sex"]
)
def test_order_by_stays_on_the_whole_result(order: str, data: Catalog) -> None:
    sql = (
        f"SELECT region, sex, GROUPING(region, sex) AS g, count(*) AS n FROM dwp.uc_claims "
        f"GROUP BY ROLLUP (region, sex) ORDER BY {order}"
    )
    tree = _expanded(sql)
    assert isinstance(tree, exp.Union) and tree.args.get("order")
    assert not any(s.args.get("order") for s in tree.find_all(exp.Select))
    ours, direct = _ours(sql, data), _direct(sql, data)
    assert [r[:3] for r in ours] == [r[:3] for r in direct] and len(ours) == 9


def test_order_by_an_expression_of_the_select_list_names_that_column(data: Catalog) -> None:
    sql = (
        "SELECT upper(region), sex, GROUPING(sex), count(*) AS n FROM dwp.uc_claims AS u "
        "GROUP BY ROLLUP (upper(region), u.sex) ORDER BY upper(region), u.sex, GROUPING(sex)"
    )
    order = _expanded(sql).args["order"]
    assert [o.this.sql() for o in order.expressions] == ["1", "sex", "3"]
    assert [r[:3] for r in _ours(sql, data)] == [r[:3] for r in _direct(sql, data)]


def test_one_branch_per_set_finest_first_with_nulls_and_constants() -> None:
    tree = _expanded(
        "SELECT region, sex, GROUPING(region, sex) AS g, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex)"
    )
    selects = [s for s in tree.find_all(exp.Select)]
    assert len(selects) == 3
    by_group = {tuple(k.sql() for k in s.args["group"].expressions) if s.args.get("group") else (): s for s in selects}
    assert set(by_group) == {("region", "sex"), ("region",), ()}
    assert [p.sql() for p in by_group[("region",)].expressions] == ["region", "NULL AS sex", "1 AS g", "COUNT(*) AS n"]
    assert [p.sql() for p in by_group[()].expressions] == ["NULL AS region", "NULL AS sex", "3 AS g", "COUNT(*) AS n"]
    first = tree
    while isinstance(first, exp.Union):
        first = first.this
    assert len(first.args["group"].expressions) == 2  # the finest set names the columns


def test_cube_margins_are_every_subset() -> None:
    tree = _expanded("SELECT region, sex, age_band, count(*) FROM dwp.uc_claims GROUP BY CUBE (region, sex, age_band)")
    groups = [
        frozenset(k.name for k in s.args["group"].expressions) if s.args.get("group") else frozenset()
        for s in tree.find_all(exp.Select)
    ]
    assert len(groups) == len(set(groups)) == 8


def test_a_set_asked_for_twice_is_computed_once(data: Catalog) -> None:
    sql = "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY region, CUBE (region, sex)"
    assert len(list(_expanded(sql).find_all(exp.Select))) == 2
    assert collections.Counter(_ours(sql, data)) == collections.Counter(
        _direct(sql.replace("SELECT", "SELECT DISTINCT", 1), data)
    )


def test_with_moves_to_the_union_and_branches_keep_the_analysts_positions() -> None:
    sql = "WITH c AS (SELECT region, sex FROM dwp.uc_claims)\nSELECT region,\n       sex, count(*)\nFROM c GROUP BY CUBE (region, sex)"
    tree = _expanded(sql)
    assert isinstance(tree, exp.Union) and tree.args.get("with_") is not None
    assert not any(s.args.get("with_") for s in tree.find_all(exp.Select))
    from trust.sql.validate import position

    branches = [s for s in tree.find_all(exp.Select) if s.find_ancestor(exp.CTE) is None]
    assert len(branches) == 4
    assert {position(s.expressions[1].unalias()) for s in branches} == {(3, 8)}  # sex, or the NULL standing for it


def test_queries_without_grouping_sets_are_untouched() -> None:
    parsed = parse(
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region UNION ALL SELECT NULL, count(*) FROM dwp.uc_claims"
    )
    assert expand(parsed) is parsed


def test_resolve_keeps_the_analysts_text_and_tree(catalog: Catalog) -> None:
    sql = "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region)"
    parsed = parse(sql)
    resolved = resolve(parsed, catalog)
    assert resolved.parsed is parsed and isinstance(resolved.tree, exp.Union)
    plan = _plan(sql, catalog)
    assert [o.name for o in plan.outputs] == ["region", "count(*)"]  # named from the analyst's text
    assert plan.companions is not None and plan.companions.totals == ((False, False), (True, False))
    assert sqlglot.parse_one(plan.sql, read="duckdb").sql("duckdb") == plan.sql


def test_a_suppressed_part_is_not_left_recoverable_from_its_total(data: Catalog) -> None:
    sql = "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex)"
    plan = _plan(sql, data)
    raw = duckdb.connect().execute(plan.sql).to_arrow_table()
    out = protect(raw, plan, Parameters(min_units=3), max_rows=1000)
    rows = out.table.to_pylist()
    hidden = {c.row for c in out.report.cells if c.hidden}
    by_key = {(r["region"], r["sex"]): i for i, r in enumerate(rows)}
    primary = by_key[("S", "M")]  # one person
    assert next(c for c in out.report.cells if c.row == primary).rule == "min_units"
    # each total with its parts: never exactly one hidden among them
    relations = [[by_key[(None, None)]] + [by_key[(r, None)] for r in REGIONS]]
    relations += [[by_key[(r, None)]] + [by_key[(r, s)] for s in REGIONS[r]] for r in REGIONS]
    relations += [[by_key[(r, None)]] + [by_key[(r, s)] for s in REGIONS[r]] for r in REGIONS]
    for relation in relations:
        assert sum(r in hidden for r in relation) != 1, (relation, rows, hidden)
    secondary = [c for c in out.report.cells if c.rule == "secondary"]
    assert secondary and all(c.secondary and "cannot be recovered" in c.detail for c in secondary)


REFUSED = {
    "in-subquery": (
        "SELECT n FROM (SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region)) AS s",
        "group_by_form",
        "subquery or CTE",
    ),
    "in-cte": (
        "WITH t AS (SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY CUBE (region)) SELECT sum(n) FROM t",
        "group_by_form",
        "subquery or CTE",
    ),
    "grouping-in-cte": (
        "WITH t AS (SELECT region, GROUPING(region) AS g FROM dwp.uc_claims GROUP BY region) "
        "SELECT g, count(*) FROM t GROUP BY g",
        "group_by_form",
        "GROUPING()",
    ),
    "union-distinct": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region) "
        "UNION SELECT sex, count(*) FROM dwp.uc_claims GROUP BY sex",
        "group_by_form",
        "UNION ALL",
    ),
    "cube-of-five": (
        "SELECT region, sex, age_band, la_code, tenure, count(*) FROM dwp.uc_claims "
        "GROUP BY CUBE (region, sex, age_band, la_code, tenure)",
        "too_many_grouping_sets",
        "32 grouping sets",
    ),
    "product": (
        "SELECT region, sex, age_band, la_code, tenure, count(*) FROM dwp.uc_claims "
        "GROUP BY ROLLUP (region, sex), CUBE (age_band, la_code, tenure)",
        "too_many_grouping_sets",
        "limit is 16",
    ),
    "with-rollup": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region WITH ROLLUP",
        "group_by_form",
        "WITH ROLLUP",
    ),
    "with-totals": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region WITH TOTALS",
        "clause_not_allowed",
        None,
    ),
    "key-not-shown": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region, sex)",
        "group_by_form",
        "sex is not an output column",
    ),
    "mixed-column": (
        "SELECT region || sex AS k, region, sex, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region, sex)",
        "group_by_form",
        "own output column",
    ),
    "grouping-in-where": (
        "SELECT region, count(*) FROM dwp.uc_claims WHERE GROUPING(region) = 0 GROUP BY ROLLUP (region)",
        "group_by_form",
        "not in WHERE",
    ),
    "grouping-not-a-key": (
        "SELECT region, GROUPING(sex), count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region)",
        "group_by_form",
        "not a key",
    ),
    "grouping-in-aggregate": (
        "SELECT region, sum(GROUPING(region)) FROM dwp.uc_claims GROUP BY ROLLUP (region)",
        "group_by_form",
        "inside an aggregate",
    ),
    "grouping-without-group-by": ("SELECT GROUPING(region), count(*) FROM dwp.uc_claims", "group_by_form", "GROUP BY"),
    "order-by-non-output": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region) ORDER BY lower(region)",
        "group_by_form",
        "output columns",
    ),
    "alias-or-column": (
        "SELECT upper(sex) AS s, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (s)",
        "group_by_form",
        "alias",
    ),
    "constant-key": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region, 'x')",
        "group_by_form",
        "constant",
    ),
    "position-out-of-range": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (3)",
        "group_by_form",
        "position 3",
    ),
    "having-drops-parts": (
        "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex) "
        "HAVING count(*) >= 10 OR GROUPING(sex) = 1",
        "having_with_totals",
        "by subtraction",
    ),
    "having-on-a-key": (
        "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex) "
        "HAVING sex IS NULL OR sex <> 'M'",
        "having_with_totals",
        "WHERE",
    ),
    "limit": (
        "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex) "
        "ORDER BY region NULLS FIRST LIMIT 3",
        "limit_with_totals",
        "Remove the LIMIT",
    ),
    "limit-on-a-union": (
        "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region) "
        "UNION ALL SELECT sex, count(*) FROM dwp.uc_claims GROUP BY sex LIMIT 3",
        "limit_with_totals",
        None,
    ),
    "aggregate-position": (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ROLLUP (region, 2)",
        "group_by_form",
        "aggregate",
    ),
}


@pytest.mark.parametrize(("sql", "rule", "words"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_rule_and_a_clear_message(sql: str, rule: str, words: str | None, catalog: Catalog) -> None:
    with pytest.raises(QueryRejected) as info:
        parsed = parse(sql)
        validate(parsed)
        resolve(parsed, catalog)
    err = info.value
    assert err.rule == rule, str(err)
    if words is not None:
        assert words in str(err), str(err)
    assert "\n" not in str(err) and "Traceback" not in str(err)


@pytest.mark.parametrize(
    ("sql", "rule", "words"),
    [v for v in REFUSED.values() if v[1] != "clause_not_allowed"],
    ids=[k for k, v in REFUSED.items() if v[1] != "clause_not_allowed"],
)
def test_expand_refuses_alone_what_validate_refuses(sql: str, rule: str, words: str | None) -> None:
    """resolve() expands without validate() having run (the policy explainer, tests): the same refusals."""
    with pytest.raises(NotAllowed) as info:
        expand(parse(sql))
    assert info.value.rule == rule


def test_refusal_points_at_the_construct() -> None:
    sql = "SELECT region, sex, age_band, la_code, tenure, count(*)\nFROM dwp.uc_claims\nGROUP BY CUBE (region, sex, age_band, la_code, tenure)"
    with pytest.raises(NotAllowed) as info:
        validate(parse(sql))
    assert info.value.position == (3, 16) and "line 3, column 16" in str(info.value)
    assert info.value.construct == "CUBE"
    assert f"limit is {MAX_SETS}" in str(info.value)


def test_the_limit_is_on_sets_not_on_keys(data: Catalog) -> None:
    sql = (
        "SELECT region, sex, age_band, count(*) AS n FROM dwp.uc_claims GROUP BY CUBE (region, sex), ROLLUP (age_band)"
    )
    assert len(list(_expanded(sql).find_all(exp.Select))) == 8 <= MAX_SETS
    assert collections.Counter(_ours(sql, data)) == collections.Counter(_direct(sql, data))


def test_policy_input_sees_the_union(catalog: Catalog) -> None:
    description = describe(
        resolve(parse("SELECT region, sex, count(*) FROM dwp.uc_claims GROUP BY CUBE (region, sex)"), catalog), catalog
    )
    shape = description.shape
    assert shape.set_operations == 3 and shape.aggregated_output
    assert [o.kind for o in shape.outputs] == ["group_key", "group_key", "aggregate"]
    assert math.isclose(len(description.output_scopes), 4)
