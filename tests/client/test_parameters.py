"""``{name}`` parameters of ``%%trust`` cells, as text: what each value becomes, and what is refused."""

from __future__ import annotations

import doctest
import math
from decimal import Decimal
from typing import Any

import pytest

from trust.client import parameters
from trust.client.parameters import ParameterError, bind_parameters, sql_literal

NAMESPACE: dict[str, Any] = {
    "s": "E12000009",
    "q": "O'Brien",
    "evil": "x' OR 1=1 --",
    "backslash": "a\\",
    "braces": "{s}",
    "n": 12,
    "neg": -3,
    "f": 0.1,
    "tiny": 1e-05,
    "big": 1e20,
    "d": Decimal("2.50"),
    "yes": True,
    "regions": ["E12000009", "E12000007"],
    "mixed": (1, "a", -2.5),
    "one": ["only"],
}

# (cell, what is sent to the trust)
BOUND = [
    ("region = {s}", "region = 'E12000009'"),
    ("name = {q}", "name = 'O''Brien'"),
    ("name = {evil}", "name = 'x'' OR 1=1 --'"),
    ("name = {backslash}", "name = 'a\\'"),
    ("name = {braces}", "name = '{s}'"),  # a value is never read for parameters again
    ("n > {n} AND m > {neg}", "n > 12 AND m > (-3)"),
    ("x -{neg}", "x -(-3)"),  # never `x --3`, a comment
    ("x = {f} OR x = {tiny} OR x < {big}", "x = 0.1 OR x = 0.00001 OR x < 100000000000000000000"),
    ("x = {d} AND {yes}", "x = 2.50 AND TRUE"),
    ("r IN {regions}", "r IN ('E12000009', 'E12000007')"),
    ("r IN {mixed}", "r IN (1, 'a', (-2.5))"),
    ("r IN {one}", "r IN ('only')"),
    ("x = E{s}", "x = E 'E12000009'"),  # never glued into E'…', an escape string
    ("{ s }", "'E12000009'"),
    ("'{{s}}' AND \"{{col}}\" AND {{s}}", "'{s}' AND \"{col}\" AND {s}"),
    ("'it''s' = {s}", "'it''s' = 'E12000009'"),
    ('"a""b" = {s}', '"a""b" = \'E12000009\''),
    ("x -- {nope} and 'unclosed\ny = {s}", "x -- {nope} and 'unclosed\ny = 'E12000009'"),
    ("x /* {nope} } { */ = {s}", "x /* {nope} } { */ = 'E12000009'"),
    ("no parameters at all", "no parameters at all"),
]


@pytest.mark.parametrize(("cell", "sent"), BOUND)
def test_bound(cell: str, sent: str):
    assert bind_parameters(cell, NAMESPACE) == sent


# (cell, part of the one-line message)
REFUSED = [
    ("x = {missing}", "No variable `missing` in this notebook for `{missing}` at line 1, column 5"),
    ("x = 1\n  AND y = {missing}", "at line 2, column 11"),
    ("x = '{s}'", "`{s}` at line 1, column 6 is inside quotes"),
    ('x = "{s}"', "is inside quotes"),
    ("x = {s.upper()}", "`{s.upper()}` at line 1, column 5 is not a parameter"),
    ("x = {1}", "is not a parameter"),
    ("x = {}", "is not a parameter"),
    ("x = {s", "`{` at line 1, column 5 is not a parameter"),
    ("x = s}", "A lone `}` at line 1, column 6"),
]


@pytest.mark.parametrize(("cell", "message"), REFUSED)
def test_refused(cell: str, message: str):
    with pytest.raises(ParameterError) as caught:
        bind_parameters(cell, NAMESPACE)
    assert message in caught.value.message and "\n" not in caught.value.message


# (value, part of the one-line message)
NO_LITERAL = [
    (None, "not None (write `IS NULL` in the SQL instead)"),
    ({"a": 1}, "not a dict"),
    ({"a"}, "not a set"),
    ([], "is an empty list"),
    ((), "is an empty tuple"),
    ([["a"]], "an item of a parameter must be"),
    (math.nan, "is nan, which SQL has no literal for"),
    (math.inf, "is inf"),
    (Decimal("NaN"), "is NaN"),
    (b"bytes", "not a bytes"),
]


@pytest.mark.parametrize(("value", "message"), NO_LITERAL, ids=[repr(v) for v, _ in NO_LITERAL])
def test_values_without_a_plain_literal_are_refused(value: Any, message: str):
    with pytest.raises(ParameterError, match="`{v}`") as caught:
        sql_literal(value, "v")
    assert message in caught.value.message


def test_numpy_and_pandas_values():
    np = pytest.importorskip("numpy")
    assert sql_literal(np.int64(7)) == "7" and sql_literal(np.float64(-0.5)) == "(-0.5)"
    with pytest.raises(ParameterError, match="not a numpy.ndarray"):
        sql_literal(np.array([1, 2]))


def test_docstring_examples_run():
    result = doctest.testmod(parameters)
    assert result.attempted > 0 and result.failed == 0
