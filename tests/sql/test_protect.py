"""Structural protections that hold whatever the policy says."""

from __future__ import annotations

import pytest

from trust.catalog import Catalog
from trust.errors import NotAllowed
from trust.sql.describe import describe
from trust.sql.parse import parse
from trust.sql.protect import check_structure
from trust.sql.resolve import resolve
from trust.sql.validate import validate


def _check(sql: str, catalog: Catalog) -> None:
    parsed = parse(sql)
    validate(parsed)
    check_structure(describe(resolve(parsed, catalog), catalog))


ACCEPTED = [
    "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region",
    "SELECT 'England', count(*) FROM dwp.uc_claims",
    "SELECT region, count(DISTINCT person_id) FROM dwp.uc_claims GROUP BY 1",
    "SELECT u.region, sum(p.gross_pay) FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON p.person_id = u.person_id "
    "GROUP BY 1",
    "SELECT region, sum(award_amount * 12 - 5) / count(*) FROM dwp.uc_claims GROUP BY 1",
    "SELECT tax_month, avg(tax_paid / gross_pay) FROM hmrc.paye_employments GROUP BY 1",
    "SELECT region, sum(CASE WHEN sex = 'F' THEN award_amount WHEN sex = 'M' THEN award_amount / 2 ELSE 0 END) "
    "FROM dwp.uc_claims GROUP BY 1",
    "SELECT region, count(CASE WHEN age_band = '65+' THEN la_code END) FROM dwp.uc_claims GROUP BY 1",
    "SELECT CASE WHEN award_amount > 1000 THEN 'high' ELSE 'low' END AS band, count(*) FROM dwp.uc_claims GROUP BY 1",
    "SELECT region, count(*) FROM dwp.uc_claims GROUP BY 1 HAVING count(*) > 10 ORDER BY region",
    "SELECT region, count(*) FROM dwp.uc_claims WHERE award_amount > 100 AND claim_start > '2020-01-01' GROUP BY 1",
    "SELECT region, count(*) FROM (SELECT DISTINCT region, person_id FROM dwp.uc_claims) t GROUP BY 1",
    "WITH d AS (SELECT region, award_amount / 12 AS monthly FROM dwp.uc_claims) SELECT region, sum(monthly * 2) "
    "FROM d GROUP BY 1",
    "SELECT region, count(*) FROM dwp.uc_claims WHERE DATE '2025-04-01' - claim_start > 365 GROUP BY 1",
    "SELECT tax_month, count(*) FROM hmrc.paye_employments WHERE tax_month = '3' GROUP BY 1",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepted(sql: str, catalog: Catalog) -> None:
    _check(sql, catalog)


REFUSED = [
    ("SELECT nino, count(*) FROM dwp.uc_claims GROUP BY 1", "direct_identifier"),
    ("SELECT region, count(*) FROM dwp.uc_claims WHERE upper(nino) LIKE 'Q%' GROUP BY 1", "direct_identifier"),
    ("SELECT region, count(*) FROM (SELECT region, nino FROM dwp.uc_claims) t GROUP BY 1", "direct_identifier"),
    ("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region, person_id", "linkage_key_use"),
    ("SELECT region, count(person_id) FROM dwp.uc_claims GROUP BY 1", "linkage_key_use"),
    ("SELECT region, count(DISTINCT upper(person_id)) FROM dwp.uc_claims GROUP BY 1", "linkage_key_use"),
    (
        "SELECT u.region, count(*) FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON p.employer_id = u.person_id "
        "GROUP BY 1",
        "linkage_key_join",
    ),
    (
        "SELECT u.region, count(*) FROM dwp.uc_claims u JOIN dfe.learners l ON l.la_code = u.la_code GROUP BY 1",
        "join_without_key",
    ),
    ("SELECT region, award_amount FROM dwp.uc_claims", "measure_not_aggregated"),
    ("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region ORDER BY sum(award_amount)", "order_by_aggregate"),
    ("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region ORDER BY n", "order_by_aggregate"),
    ("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region ORDER BY 2", "order_by_aggregate"),
    (
        "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY 1 UNION ALL SELECT 'x', count(*) FROM dwp.uc_claims "
        "ORDER BY n",
        "order_by_aggregate",
    ),
    ("SELECT DISTINCT region FROM dwp.uc_claims", "row_level_output"),
    ("SELECT region FROM dwp.uc_claims GROUP BY region", "row_level_output"),
    ("SELECT region, la_code, count(*) FROM dwp.uc_claims GROUP BY region", "row_level_output"),
    (
        "SELECT n, count(*) FROM (SELECT la_code, count(*) AS n FROM dwp.uc_claims GROUP BY 1) t GROUP BY 1",
        "aggregate_in_subquery",
    ),
    ("SELECT region, sum(DISTINCT award_amount) FROM dwp.uc_claims GROUP BY 1", "distinct_argument"),
    ("SELECT region, sum(award_amount * award_amount) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    ("SELECT region, sum(round(award_amount)) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    ("SELECT region, sum(award_amount / (award_amount - 1)) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    ("SELECT region, sum(CAST(sex = 'F' AS INT)) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    (
        "SELECT region, sum(CASE WHEN sex = 'F' THEN floor(award_amount) END) FROM dwp.uc_claims GROUP BY 1",
        "aggregate_argument",
    ),
    ("SELECT region, sum(coalesce(award_amount, 1)) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    ("SELECT region, avg(CAST(la_code AS DOUBLE)) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    (
        "SELECT region, count(*) FROM dwp.uc_claims GROUP BY 1 HAVING sum(CASE WHEN sex = 'F' THEN 1 END) > 1",
        "aggregate_argument",
    ),
    (
        "WITH d AS (SELECT region, award_amount - 5 AS d, award_amount FROM dwp.uc_claims) "
        "SELECT region, sum(award_amount / d) FROM d GROUP BY 1",
        "aggregate_argument",
    ),
    ("SELECT region, quantile_cont(award_amount, sex) FROM dwp.uc_claims GROUP BY 1", "aggregate_argument"),
    ("SELECT region, count(*) FROM dwp.uc_claims WHERE region = 1 GROUP BY 1", "implicit_cast"),
    ("SELECT region, count(*) FROM dwp.uc_claims WHERE region GROUP BY 1", "implicit_cast"),
    ("SELECT region, count(*) FROM dwp.uc_claims WHERE region * 2 > 1 GROUP BY 1", "implicit_cast"),
    ("SELECT region, count(*) FROM dwp.uc_claims WHERE nullif(la_code, 3) = 2 GROUP BY 1", "implicit_cast"),
    ("SELECT region, count(*) FROM dwp.uc_claims WHERE claim_start - 1 > '2020-01-01' GROUP BY 1", "date_arithmetic"),
]


@pytest.mark.parametrize(("sql", "rule"), REFUSED, ids=[r[1] for r in REFUSED])
def test_refused(sql: str, rule: str, catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _check(sql, catalog)
    assert info.value.rule == rule, str(info.value)
    assert "\n" not in str(info.value)


def test_refusal_names_the_column_and_its_position(catalog: Catalog) -> None:
    with pytest.raises(NotAllowed) as info:
        _check("SELECT region,\n  count(*)\nFROM dwp.uc_claims WHERE nino = 'x' GROUP BY 1", catalog)
    assert info.value.position == (3, 26) and "dwp.uc_claims.nino" in str(info.value)
