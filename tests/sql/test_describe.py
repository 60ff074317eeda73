"""Stage 4: the query as policy sees it (DESIGN section 6, input.query)."""

from __future__ import annotations

from typing import Any

import pytest

from trust.catalog import Catalog
from trust.sql.describe import Description, describe
from trust.sql.parse import parse
from trust.sql.resolve import resolve
from trust.sql.validate import validate


def _describe(sql: str, catalog: Catalog) -> Description:
    parsed = parse(sql)
    validate(parsed)
    return describe(resolve(parsed, catalog), catalog)


def _doc(sql: str, catalog: Catalog) -> dict[str, Any]:
    return _describe(sql, catalog).shape.to_policy_input()


def _used_in(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {f"{c['dataset']}.{c['column']}": c["used_in"] for c in doc["columns"]}


def test_document_fields(catalog: Catalog) -> None:
    doc = _doc("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region", catalog)
    assert list(doc) == [
        "tables",
        "columns",
        "aggregates",
        "joins",
        "outputs",
        "aggregated_output",
        "set_operations",
        "subqueries",
    ]
    assert doc["tables"] == [{"dataset": "dwp.uc_claims", "department": "DWP", "flags": []}]
    assert doc["columns"] == [
        {
            "dataset": "dwp.uc_claims",
            "column": "region",
            "role": "dimension",
            "used_in": ["group_by", "output"],
            "flags": [],
        }
    ]
    assert doc["aggregates"] == [{"function": "count", "dataset": None, "column": None, "distinct": False}]
    assert doc["outputs"] == [
        {"name": "region", "kind": "group_key", "function": None, "lineage": ["dwp.uc_claims.region"]},
        {"name": "n", "kind": "aggregate", "function": "count", "lineage": []},
    ]
    assert doc["aggregated_output"] is True and doc["joins"] == []


def test_every_place_a_column_is_used(catalog: Catalog) -> None:
    sql = """SELECT u.region, sum(p.gross_pay) AS pay FROM dwp.uc_claims u
             JOIN hmrc.paye_employments p ON p.person_id = u.person_id
             WHERE u.sex = 'F' GROUP BY u.region HAVING count(DISTINCT u.la_code) > 2 ORDER BY u.region"""
    used = _used_in(_doc(sql, catalog))
    assert used == {
        "dwp.uc_claims.region": ["group_by", "order", "output"],
        "hmrc.paye_employments.gross_pay": ["aggregate"],
        "hmrc.paye_employments.person_id": ["join"],
        "dwp.uc_claims.person_id": ["join"],
        "dwp.uc_claims.sex": ["filter"],
        "dwp.uc_claims.la_code": ["aggregate"],
    }


def test_derived_tables_are_described_where_they_are_used(catalog: Catalog) -> None:
    sql = """WITH x AS (SELECT region AS area, award_amount AS amt FROM dwp.uc_claims WHERE age_band = '65+')
             SELECT area, avg(amt) FROM x GROUP BY area"""
    used = _used_in(_doc(sql, catalog))
    assert used == {
        "dwp.uc_claims.region": ["group_by", "output"],
        "dwp.uc_claims.award_amount": ["aggregate"],
        "dwp.uc_claims.age_band": ["filter"],
    }


def test_aggregates_with_arguments(catalog: Catalog) -> None:
    sql = """SELECT region, count(*), count(DISTINCT person_id), sum(award_amount),
                    avg(CASE WHEN sex = 'F' THEN award_amount END), max(award_amount)
             FROM dwp.uc_claims GROUP BY region"""
    aggs = _doc(sql, catalog)["aggregates"]
    assert aggs == [
        {"function": "count", "dataset": None, "column": None, "distinct": False},
        {"function": "count", "dataset": "dwp.uc_claims", "column": "person_id", "distinct": True},
        {"function": "sum", "dataset": "dwp.uc_claims", "column": "award_amount", "distinct": False},
        {"function": "avg", "dataset": "dwp.uc_claims", "column": "award_amount", "distinct": False},
        {"function": "max", "dataset": "dwp.uc_claims", "column": "award_amount", "distinct": False},
    ]


def test_joins_with_keys_and_kind(catalog: Catalog) -> None:
    sql = """SELECT b.sic_section, count(*) FROM hmrc.paye_employments p
             JOIN desnz.businesses b ON b.employer_id = p.employer_id
             LEFT JOIN dwp.uc_claims u ON u.person_id = p.person_id GROUP BY 1"""
    assert _doc(sql, catalog)["joins"] == [
        {"left": "hmrc.paye_employments.employer_id", "right": "desnz.businesses.employer_id", "kind": "inner"},
        {"left": "hmrc.paye_employments.person_id", "right": "dwp.uc_claims.person_id", "kind": "left"},
    ]


def test_join_sides_do_not_depend_on_how_on_is_written(catalog: Catalog) -> None:
    base = "SELECT u.region, count(*) FROM dwp.uc_claims u LEFT JOIN dfe.learners l ON {} GROUP BY 1"
    one = _doc(base.format("l.person_id = u.person_id"), catalog)["joins"]
    two = _doc(base.format("u.person_id = l.person_id"), catalog)["joins"]
    assert one == two == [{"left": "dwp.uc_claims.person_id", "right": "dfe.learners.person_id", "kind": "left"}]


def test_join_through_derived_table_reports_catalogue_columns(catalog: Catalog) -> None:
    sql = """SELECT u.region, count(*) FROM dwp.uc_claims u
             JOIN (SELECT DISTINCT person_id AS pid FROM hmrc.paye_employments) e ON e.pid = u.person_id GROUP BY 1"""
    assert _doc(sql, catalog)["joins"] == [
        {"left": "dwp.uc_claims.person_id", "right": "hmrc.paye_employments.person_id", "kind": "inner"}
    ]


@pytest.mark.parametrize(
    ("sql", "aggregated"),
    [
        ("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region", True),
        ("SELECT count(*) FROM dwp.uc_claims", True),
        ("SELECT 'England' AS area, count(*) FROM dwp.uc_claims", True),
        ("SELECT upper(region), count(*) FROM dwp.uc_claims GROUP BY region", True),
        ("SELECT region || sex, count(*) FROM dwp.uc_claims GROUP BY region, sex", True),
        ("SELECT region, count(*) FROM dwp.uc_claims", False),
        ("SELECT region FROM dwp.uc_claims", False),
        ("SELECT region, la_code, count(*) FROM dwp.uc_claims GROUP BY region", False),
        (
            "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region UNION ALL SELECT region, 1 FROM dwp.uc_claims",
            False,
        ),
        (
            "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region UNION ALL SELECT 'all', count(*) "
            "FROM dwp.uc_claims",
            True,
        ),
    ],
)
def test_aggregated_output(sql: str, aggregated: bool, catalog: Catalog) -> None:
    assert _doc(sql, catalog)["aggregated_output"] is aggregated


def test_output_lineage_spans_union_branches(catalog: Catalog) -> None:
    sql = """SELECT region AS area, count(*) AS n FROM dwp.uc_claims GROUP BY 1
             UNION ALL SELECT la_code, count(*) FROM dfe.learners GROUP BY 1"""
    doc = _doc(sql, catalog)
    assert doc["outputs"][0]["lineage"] == ["dfe.learners.la_code", "dwp.uc_claims.region"]
    assert doc["set_operations"] == 1 and doc["tables"][0]["dataset"] == "dfe.learners"


def test_special_category_flags_reach_policy(catalog: Catalog) -> None:
    doc = _doc("SELECT health_condition_group, count(*) FROM dwp.pip_awards GROUP BY 1", catalog)
    assert doc["tables"][0]["flags"] == ["special_category"]
    assert doc["columns"][0]["flags"] == ["special_category"]


def test_subqueries_are_counted(catalog: Catalog) -> None:
    sql = (
        "WITH a AS (SELECT region FROM dwp.uc_claims) SELECT region, count(*) FROM (SELECT region FROM a) t GROUP BY 1"
    )
    assert _doc(sql, catalog)["subqueries"] == 2


def test_the_document_is_deterministic(catalog: Catalog) -> None:
    sql = """SELECT u.region, u.sex, count(DISTINCT u.person_id), sum(p.gross_pay) FROM dwp.uc_claims u
             JOIN hmrc.paye_employments p ON p.person_id = u.person_id GROUP BY ALL"""
    assert _doc(sql, catalog) == _doc(sql, catalog) == _doc(sql.replace("u.sex", "U.SEX"), catalog)


def test_uses_record_aggregate_and_flow(catalog: Catalog) -> None:
    description = _describe(
        "SELECT region, sum(CASE WHEN sex = 'F' THEN award_amount END) FROM dwp.uc_claims GROUP BY region", catalog
    )
    uses = {(u.column.name, u.context): u for u in description.uses}
    assert uses["award_amount", "output"].aggregate == "sum" and uses["award_amount", "output"].flows
    assert uses["sex", "output"].aggregate == "sum" and not uses["sex", "output"].flows
    assert uses["region", "output"].aggregate is None and uses["region", "output"].in_output_scope
    assert ("region", "group_by") in uses
