"""Stage 2: the allow-list. Everything not on it is refused with its name and position."""

from __future__ import annotations

import doctest
import importlib

import pytest

from trust.errors import NotAllowed
from trust.sql.parse import parse
from trust.sql.validate import ALLOWED, MODIFIERS, validate

ALLOWED_SQL = [
    "SELECT region, count(*) FROM dwp.uc_claims GROUP BY region",
    "SELECT region, count(*) FROM dwp.uc_claims GROUP BY ALL",
    "SELECT region, count(DISTINCT person_id), sum(award_amount), avg(award_amount) FROM dwp.uc_claims GROUP BY 1",
    "SELECT region, min(award_amount), max(award_amount), median(award_amount), quantile_cont(award_amount, 0.5) "
    "FROM dwp.uc_claims GROUP BY 1",
    "WITH x AS (SELECT region, award_amount FROM dwp.uc_claims) SELECT region, sum(award_amount) FROM x GROUP BY 1",
    "SELECT t.region, count(*) FROM (SELECT region FROM dwp.uc_claims WHERE sex = 'F') AS t GROUP BY 1",
    "SELECT u.region, count(*) FROM dwp.uc_claims u LEFT JOIN dfe.learners l ON l.person_id = u.person_id GROUP BY 1",
    "SELECT u.region, count(*) FROM dwp.uc_claims u JOIN dfe.learners l USING (person_id) GROUP BY 1",
    "SELECT region, count(*) FROM dwp.uc_claims GROUP BY 1 UNION ALL SELECT 'all', count(*) FROM dwp.uc_claims",
    "SELECT region, count(*) FROM dwp.uc_claims WHERE la_code IN ('a', 'b') AND award_amount BETWEEN 1 AND 2 "
    "AND region LIKE 'E%' AND NOT sex ILIKE 'f' AND claim_start IS NOT NULL GROUP BY 1 HAVING count(*) > 10 "
    "ORDER BY region DESC NULLS LAST LIMIT 5",
    "SELECT CASE WHEN award_amount > 100 THEN 'hi' ELSE 'lo' END AS b, if(sex = 'F', 1, 0) AS f, "
    "coalesce(region, 'x') AS r, nullif(sex, 'M') AS s, count(*) FROM dwp.uc_claims GROUP BY ALL",
    "SELECT upper(region), lower(sex), substring(la_code, 1, 3), length(region), trim(region), concat(region, sex), "
    "region || sex, count(*) FROM dwp.uc_claims GROUP BY ALL",
    "SELECT round(sum(award_amount), 2), abs(sum(award_amount)), floor(avg(award_amount)), ceil(avg(award_amount)), "
    "greatest(1, 2), least(1, 2), count(*) // 2, count(*) % 2, -count(*) FROM dwp.uc_claims",
    "SELECT year(claim_start), month(claim_start), quarter(claim_start), extract(year FROM claim_start), "
    "date_trunc('month', claim_start), count(*) FROM dwp.uc_claims GROUP BY ALL",
    "SELECT CAST(tax_month AS VARCHAR), TRY_CAST(tax_year AS INTEGER), tax_month::DOUBLE, "
    "CAST(gross_pay AS DECIMAL(10, 2)), count(*) FROM hmrc.paye_employments GROUP BY ALL",
    "SELECT region, n: count(*) FROM dwp.uc_claims GROUP BY region",
    "FROM dwp.uc_claims SELECT region, count(*) GROUP BY region",
    "SELECT * FROM dwp.uc_claims",  # structurally refused later, but nothing off the list
    'SELECT region, count(*) AS "group" FROM dwp.uc_claims GROUP BY region',
]


@pytest.mark.parametrize("sql", ALLOWED_SQL)
def test_allowed(sql: str) -> None:
    validate(parse(sql))


def _refusal(sql: str, **kwargs: int) -> NotAllowed:
    with pytest.raises(NotAllowed) as info:
        validate(parse(sql), **kwargs)
    return info.value


REFUSED = [
    # (sql, rule, construct it names)
    ("SELECT * FROM read_parquet('/etc/passwd')", "table_not_dataset", "function read_parquet()"),
    ("SELECT count(*) FROM glob('/*')", "table_not_dataset", "function glob()"),
    ("SELECT * FROM query('SELECT 1')", "table_not_dataset", "function query()"),
    ("SELECT count(*) FROM '/etc/passwd'", "file_as_table", "/etc/passwd"),
    ('SELECT count(*) FROM "data.parquet"', "file_as_table", "data.parquet"),
    ('SELECT count(*) FROM "dwp.uc_claims"', "quoted_dotted_name", "dwp.uc_claims"),
    ("SELECT count(*) FROM memory.dwp.uc_claims", "table_not_dataset", None),
    ("SELECT list(award_amount) FROM dwp.uc_claims", "not_on_allow_list", "function array_agg()"),
    ("SELECT string_agg(region, ',') FROM dwp.uc_claims", "not_on_allow_list", None),
    ("SELECT first(award_amount) FROM dwp.uc_claims", "not_on_allow_list", "function first()"),
    ("SELECT any_value(award_amount) FROM dwp.uc_claims", "not_on_allow_list", None),
    ("SELECT arg_max(region, award_amount) FROM dwp.uc_claims", "not_on_allow_list", None),
    ("SELECT histogram(region) FROM dwp.uc_claims", "not_on_allow_list", "function histogram()"),
    ("SELECT mode(region) FROM dwp.uc_claims", "not_on_allow_list", None),
    ("SELECT bit_or(tax_month) FROM hmrc.paye_employments", "not_on_allow_list", None),
    ("SELECT stddev(award_amount) FROM dwp.uc_claims", "not_on_allow_list", None),
    ("SELECT query_table('dwp.uc_claims')", "not_on_allow_list", "function query_table()"),
    ("SELECT current_setting('threads')", "not_on_allow_list", "function current_setting()"),
    ("SELECT count(*) OVER () FROM dwp.uc_claims", "not_on_allow_list", "WINDOW"),
    ("SELECT COLUMNS('.*') FROM dwp.uc_claims", "not_on_allow_list", "COLUMNS"),
    ("SELECT * EXCLUDE (nino) FROM dwp.uc_claims", "star_modifier", None),
    ("SELECT * REPLACE (1 AS nino) FROM dwp.uc_claims", "star_modifier", None),
    ("SELECT [region] FROM dwp.uc_claims", "not_on_allow_list", "ARRAY"),
    ("SELECT {'a': region} FROM dwp.uc_claims", "not_on_allow_list", "STRUCT"),
    ("SELECT map([1], [2])", "not_on_allow_list", None),
    ("SELECT region ->> '$.a' FROM dwp.uc_claims", "not_on_allow_list", None),
    ("SELECT nino.upper() FROM dwp.uc_claims", "method_call", None),
    ("SELECT dwp.uc_claims.region FROM dwp.uc_claims", "column_reference", None),
    ("SELECT #1 FROM dwp.uc_claims", "not_on_allow_list", "POSITIONALCOLUMN"),
    ("SELECT region FROM dwp.uc_claims ORDER BY ALL", "keyword_not_allowed", "ALL"),
    ("SELECT region FROM dwp.uc_claims WHERE region = :name", "not_on_allow_list", "PLACEHOLDER"),
    ("SELECT region FROM dwp.uc_claims WHERE region GLOB 'E*'", "not_on_allow_list", "GLOB"),
    ("SELECT region FROM dwp.uc_claims WHERE region SIMILAR TO 'E.*'", "not_on_allow_list", None),
    ("SELECT region FROM dwp.uc_claims WHERE region LIKE 'a!%' ESCAPE '!'", "not_on_allow_list", "ESCAPE"),
    ("SELECT region FROM dwp.uc_claims WHERE region IS NOT DISTINCT FROM sex", "not_on_allow_list", None),
    ("SELECT count(*) FILTER (WHERE sex = 'F') FROM dwp.uc_claims", "not_on_allow_list", "FILTER"),
    ("SELECT region FROM dwp.uc_claims QUALIFY 1 = 1", "clause_not_allowed", "QUALIFY"),
    ("SELECT region FROM dwp.uc_claims WINDOW w AS (PARTITION BY region)", "clause_not_allowed", "WINDOWS"),
    ("SELECT region FROM dwp.uc_claims OFFSET 5", "clause_not_allowed", "OFFSET"),
    ("SELECT region FROM dwp.uc_claims LIMIT 10%", "not_on_allow_list", None),
    ("SELECT region INTO t FROM dwp.uc_claims", "clause_not_allowed", "INTO"),
    ("SELECT region FROM dwp.uc_claims USING SAMPLE 10", "clause_not_allowed", "SAMPLE"),
    ("SELECT region FROM dwp.uc_claims TABLESAMPLE 10%", "clause_not_allowed", None),
    ("SELECT * FROM dwp.uc_claims PIVOT (count(*) FOR sex IN ('F'))", "clause_not_allowed", None),
    ("SELECT 1 INTERSECT SELECT 2", None, None),  # refused at parse (select_only)
    ("SELECT 1 UNION ALL BY NAME SELECT 2", "clause_not_allowed", "BY_NAME"),
    ("SELECT a.region FROM dwp.uc_claims a FULL JOIN dfe.learners b ON a.person_id = b.person_id", "join_kind", "FULL"),
    (
        "SELECT a.region FROM dwp.uc_claims a RIGHT JOIN dfe.learners b ON a.person_id = b.person_id",
        "join_kind",
        "RIGHT",
    ),
    ("SELECT a.region FROM dwp.uc_claims a SEMI JOIN dfe.learners b ON a.person_id = b.person_id", "join_kind", "SEMI"),
    ("SELECT a.region FROM dwp.uc_claims a ASOF JOIN dfe.learners b ON a.person_id = b.person_id", "join_kind", None),
    ("SELECT a.region FROM dwp.uc_claims a POSITIONAL JOIN dfe.learners b", "join_kind", None),
    ("SELECT a.region FROM dwp.uc_claims a NATURAL JOIN dfe.learners b", "join_kind", None),
    ("SELECT a.region FROM dwp.uc_claims a, dfe.learners b", "cross_join", None),
    ("SELECT a.region FROM dwp.uc_claims a, LATERAL (SELECT 1) b", "cross_join", None),
    ("SELECT a.region FROM dwp.uc_claims a JOIN LATERAL (SELECT 1) b ON true", "not_on_allow_list", "LATERAL"),
    ("SELECT t.a FROM dwp.uc_claims AS t(a)", "column_alias_list", None),
    ("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", "recursive_cte", None),
    ("WITH r AS MATERIALIZED (SELECT 1) SELECT * FROM r", "clause_not_allowed", None),
    ("SELECT DISTINCT ON (region) region FROM dwp.uc_claims", "distinct_on", "DISTINCT ON"),
    ("SELECT (SELECT 1) FROM dwp.uc_claims", "scalar_subquery", "subquery"),
    ("SELECT region FROM dwp.uc_claims WHERE award_amount > (SELECT 1)", "scalar_subquery", "subquery"),
    (
        "SELECT region FROM dwp.uc_claims WHERE region IN (SELECT region FROM dfe.learners)",
        "subquery_in_condition",
        None,
    ),
    ("SELECT region FROM dwp.uc_claims WHERE EXISTS (SELECT 1)", "subquery_in_condition", "EXISTS"),
    ("SELECT CAST(region AS BLOB) FROM dwp.uc_claims", "cast_type", "BLOB"),
    ("SELECT CAST(region AS STRUCT(a INT)) FROM dwp.uc_claims", "cast_type", None),
    ("SELECT CAST(region AS INT[]) FROM dwp.uc_claims", "cast_type", None),
    ("SELECT CAST(region AS TIMESTAMP) FROM dwp.uc_claims", "cast_type", None),
    ("SELECT extract(day FROM claim_start) FROM dwp.uc_claims", "date_part", None),
    ("SELECT date_trunc('day', claim_start) FROM dwp.uc_claims", "date_part", None),
    ("SELECT substring(region, 1, 100000) FROM dwp.uc_claims", "function_argument", None),
    ("SELECT substring(region, sex, 2) FROM dwp.uc_claims", "function_argument", None),
    ("SELECT round(award_amount, 5000) FROM dwp.uc_claims", "function_argument", None),
    ("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region WITH ROLLUP", "group_by_form", None),
    (
        "SELECT region, count(*) FROM (SELECT region FROM dwp.uc_claims GROUP BY ROLLUP (region)) t GROUP BY 1",
        "group_by_form",
        None,
    ),
    (
        "SELECT region, sex, age_band, la_code, tenure, count(*) FROM dwp.uc_claims "
        "GROUP BY CUBE (region, sex, age_band, la_code, tenure)",
        "too_many_grouping_sets",
        None,
    ),
    ("SELECT region FROM dwp.uc_claims LIMIT region", "limit", None),
    ("SELECT region FROM (SELECT region FROM dwp.uc_claims LIMIT 1) t", "limit", None),
    ("SELECT region FROM (SELECT region FROM dwp.uc_claims ORDER BY 1) t", "order_by_place", None),
    ("SELECT region FROM dwp.uc_claims GROUP", "reserved_word", "GROUP"),
    ("SELECT '" + "x" * 201 + "'", "literal_too_long", None),
    ("SELECT 1 AS ``", None, None),
]


@pytest.mark.parametrize(("sql", "rule", "construct"), REFUSED, ids=[r[1] or "parse" for r in REFUSED])
def test_refused_with_rule_and_construct(sql: str, rule: str | None, construct: str | None) -> None:
    if rule is None:
        with pytest.raises(Exception):  # noqa: B017 - refused before validation (ParseFailed)
            validate(parse(sql))
        return
    err = _refusal(sql)
    assert err.rule == rule, str(err)
    if construct is not None:
        assert construct.upper() in (err.construct or "").upper(), (err.construct, str(err))
    assert "\n" not in str(err)


def test_position_points_at_the_construct() -> None:
    sql = "SELECT region,\n       first(award_amount)\nFROM dwp.uc_claims GROUP BY region"
    err = _refusal(sql)
    assert err.position == (2, 8) and "line 2, column 8" in str(err)


def test_first_offending_construct_in_text_order_is_named() -> None:
    err = _refusal("SELECT first(award_amount), list(region) FROM dwp.uc_claims")
    assert err.construct == "function first()"


def test_subclasses_of_allowed_types_are_not_allowed() -> None:
    # exp.Pseudocolumn subclasses exp.Column, exp.JSONCast subclasses exp.Cast: each is its own construct.
    from sqlglot import exp

    allowed = set(ALLOWED)
    for cls in ALLOWED:
        for sub in cls.__subclasses__():
            assert sub not in allowed or sub in {exp.TryCast}, sub


def test_every_modifier_belongs_to_an_allowed_type() -> None:
    assert set(MODIFIERS) <= set(ALLOWED)


def test_expression_depth_limit() -> None:
    sql = "SELECT count(*) FROM dwp.uc_claims WHERE award_amount" + " + 1" * 60 + " > 0"
    err = _refusal(sql, max_depth=12)
    assert err.rule == "nesting_too_deep"


def test_query_depth_limit() -> None:
    sql = "SELECT count(*) FROM " + "(SELECT * FROM " * 5 + "dwp.uc_claims" + ") t" * 5
    validate(parse(sql), max_depth=12)
    assert _refusal(sql, max_depth=4).rule == "nesting_too_deep"


@pytest.mark.parametrize("module", ["parse", "validate", "resolve", "partition"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"trust.sql.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_every_rule_is_documented() -> None:
    """Each rule name the SQL stages can raise appears in docs/sql.md's table."""
    import re
    from pathlib import Path

    from corpus_cases import load_cases

    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "sql.md").read_text(encoding="utf-8")
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "trust" / "sql").glob("*.py"))
    not_rules = {
        "quantile_disc",
        "quantile_cont",
        "ignore_nulls",
        "grouping_sets",
        "group_key",
        "group_by",
        "used_in",
        "set_operations",
        "nulls_first",
        "is_string",
        "big_int",
        "aggregated_output",
        # publication fields and the key parameter (trust/sql/publish.py, companions.py), not rules
        "avg_count",
        "cell_key",
        "count_key",
        "top_key",
        "trust_key",
    }
    rules = set(re.findall(r'"([a-z]+(?:_[a-z]+)+)"', source)) - not_rules
    rules |= set(re.findall(r'rule="([a-z_]+)"', source)) | {"parameter", "limit", "unresolved", "too_many_joins"}
    rules |= {r for c in load_cases() for r in c.rules if r.islower() and "." not in r}
    missing = sorted(r for r in rules if f"`{r}`" not in docs)
    assert not missing, f"rules missing from docs/sql.md: {missing}"
