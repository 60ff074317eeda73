"""Columns recomputed from perturbed aggregates: the formula language means what DuckDB means.

Each expression is evaluated twice: by DuckDB with its aggregates replaced by literal values, and by
``trust.sdc.formula`` from the formula ``trust.sql.publish`` made of it with the same values. They
must agree, so a published column is the analyst's own expression of the published aggregates.
"""

from __future__ import annotations

import math

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from trust.errors import NotAllowed
from trust.sdc.formula import evaluate
from trust.sql.publish import aggregates, formula, kind

EXPRESSIONS = [
    "count(*)",
    "sum(x) / count(*)",
    "count(*) * 100.0 / 10000",
    "round(avg(x), 2)",
    "round(sum(x) / sum(y) * 100)",
    "sum(x) - sum(y)",
    "-sum(x) % 7",
    "sum(x) // 3",
    "CASE WHEN count(*) > 100 THEN 'large' ELSE 'small' END",
    "CASE WHEN sum(x) > sum(y) THEN 1 WHEN sum(x) = sum(y) THEN 0 ELSE -1 END",
    "coalesce(nullif(sum(x), 0), -1)",
    "greatest(sum(x), sum(y), 5)",
    "least(sum(x), NULL, sum(y))",
    "abs(sum(x) - 1000)",
    "CAST(sum(x) AS INTEGER)",
    "CAST(count(*) AS DOUBLE) / 3",
    "floor(sum(x) / 7) + ceil(sum(y) / 7)",
    "sum(x) > 10 AND NOT count(*) < 5 OR sum(y) IS NULL",
    "sum(x) / 0",
    "sum(x) / nullif(count(*), 0)",
]
VALUES = [(123.5, 42.25, 17), (0.0, 0.0, 0), (-7.5, 2.5, 3), (1e6, None, 250), (2.5, 2.5, 101)]


def _literal(value: object) -> str:
    return "NULL" if value is None else repr(float(value)) if isinstance(value, float) else str(value)


@pytest.mark.parametrize("text", EXPRESSIONS)
@pytest.mark.parametrize("values", VALUES, ids=str)
def test_a_formula_agrees_with_duckdb(text: str, values: tuple[object, ...]) -> None:
    node = sqlglot.parse_one(f"SELECT {text}", read="duckdb").expressions[0]
    found = aggregates(node)
    by_node = {id(a): i for i, a in enumerate(found)}
    f = formula(node, lambda a: by_node[id(a)])
    x, y, n = values
    slot_values = {
        i: (float(n) if isinstance(a, exp.Count) else x if a.this.name == "x" else y) for i, a in enumerate(found)
    }
    literal = node.copy()
    for a in list(aggregates(literal)):
        i = found.index(next(b for b in found if b.sql() == a.sql()))
        value = sqlglot.parse_one(
            f"CAST({_literal(slot_values[i])} AS DOUBLE)" if slot_values[i] is not None else "CAST(NULL AS DOUBLE)"
        )  # aggregates reach the formula as doubles
        literal = value if a is literal else (a.replace(value) and literal)
    want = duckdb.execute(f"SELECT {literal.sql('duckdb')}").fetchone()[0]
    got = evaluate(f, slot_values)
    if isinstance(want, float) and isinstance(got, float):
        assert (math.isnan(want) and math.isnan(got)) or want == pytest.approx(got, rel=1e-12), (text, values)
    else:
        assert got == (float(want) if hasattr(want, "as_integer_ratio") and not isinstance(want, (bool, int)) else want)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count(*)", "count"),
        ("count(DISTINCT person_id)", "count"),
        ("sum(CASE WHEN sex = 'F' THEN 1 ELSE 0 END)", "count"),
        ("sum(CASE WHEN sex = 'F' THEN 1 END)", "count"),
        ("sum(1)", "count"),
        ("sum(CAST(award > 100 AS INTEGER))", "count"),
        ("sum(award)", "sum"),
        ("sum(CASE WHEN sex = 'F' THEN award ELSE 0 END)", "sum"),
        ("avg(award)", "avg"),
        ("avg(CASE WHEN sex = 'F' THEN 1.0 ELSE 0 END)", "avg_count"),
        ("min(award)", "min"),
        ("max(award)", "max"),
        ("median(award)", "scaled"),
    ],
)
def test_a_sum_of_indicators_is_perturbed_as_the_count_it_is(text: str, expected: str) -> None:
    [agg] = aggregates(sqlglot.parse_one(f"SELECT {text}", read="duckdb").expressions[0])
    assert kind(agg) == expected


@pytest.mark.parametrize("text", ["upper(region) || count(*)", "region || ':' || sum(x)", "CAST(count(*) AS VARCHAR)"])
def test_what_cannot_be_recomputed_is_refused_before_it_runs(text: str) -> None:
    node = sqlglot.parse_one(f"SELECT {text}", read="duckdb").expressions[0]
    with pytest.raises(NotAllowed) as refused:
        formula(node, lambda a: 0)
    assert refused.value.rule == "unpublishable_expression" and "combine them after" in refused.value.message
