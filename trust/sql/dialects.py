"""The SQL the trust generates, written for each engine from one tree.

The rewrite builds one sqlglot tree per query. Where DuckDB and Spark have no common spelling for
what the protection needs, the tree holds a node of the trust's own (below) and each engine's
dialect writes it in that engine's words, so both compute the same values bit for bit:

- ``Hex64(digest)``: the first 16 hex digits of a hex digest as an unsigned 64-bit integer (DuckDB
  ``UBIGINT``; Spark ``DECIMAL(20,0)``, exact, as Spark has no unsigned type). Record keys are
  ``Hex64(SHA-256(secret:unit))``, unit hashes ``Hex64(MD5(unit))``: neither engine's own ``hash()``
  (DuckDB's 64-bit hash is not Spark's, whose ``hash()`` is 32-bit: about 11,600 silent merges in
  10M units), so record keys, cell keys and population fingerprints agree across engines.
- ``TopN(x, n, largest)``: the ``n`` largest (or smallest) values of an aggregate's argument, largest
  first (DuckDB ``MAX(x, n)``; Spark ``SLICE(SORT_ARRAY(COLLECT_LIST(x)), ...)``), with its FILTER
  written inside the aggregate on Spark, where a FILTER may only follow an aggregate call.
- ``Leaf``: a dataset's files. DuckDB reads them with ``READ_PARQUET([...])``; Spark reads a view the
  engine registers over the same files (``leaf_view``), since Spark SQL must not name paths.

Everything else the generator emits is common SQL that sqlglot writes for both (``GROUPING`` with one
argument each, ``MAX(STRUCT(...))`` for the largest contributor, ``SHA2``, ``MD5``). The parameter
``$trust_key`` (DuckDB) is ``:trust_key`` on Spark, bound by name by each engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.spark import Spark


class Hex64(exp.Expression, exp.Func):
    """The first 64 bits of a hex digest (text) as an unsigned integer."""

    arg_types = {"this": True}


class TopN(exp.Expression, exp.AggFunc):
    """The ``count`` largest (``largest`` true) or smallest values of ``this``, as a list, extreme first."""

    arg_types = {"this": True, "count": True, "largest": True}


def hex64(digest: exp.Expr) -> Hex64:
    return Hex64(this=digest)


def unit_hash(unit: exp.Expr) -> exp.Expr:
    """``CASE WHEN u IS NULL THEN NULL ELSE Hex64(MD5(CAST(u AS VARCHAR))) END``: a unit's 64-bit hash,
    the same on every engine."""
    text = exp.Cast(this=exp.paren(unit.copy()), to=exp.DataType.build("VARCHAR"))
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=exp.paren(unit.copy()), expression=exp.Null()), true=exp.Null())],
        default=hex64(exp.MD5(this=text)),
    )


def text_hash(text: str) -> exp.Expr:
    """A constant's 64-bit hash, written as the unit hash is (the engine computes it)."""
    return hex64(exp.MD5(this=exp.Literal.string(text)))


def top_n(value: exp.Expr, count: int, *, largest: bool = True) -> TopN:
    return TopN(this=value, count=exp.Literal.number(count), largest=exp.Boolean(this=largest))


def leaf_view(files: Sequence[str]) -> str:
    """The name of the Spark view over exactly ``files`` (the same files, the same name)."""
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:20]
    return f"trust_leaf_{digest}"


def _files(node: exp.ReadParquet) -> list[str]:
    """The file names a leaf's ``READ_PARQUET`` lists (its options, such as ``hive_partitioning``, aside)."""
    files: list[str] = []
    for arg in [node.this, *node.expressions]:
        for item in arg.expressions if isinstance(arg, exp.Array) else [arg]:
            if isinstance(item, exp.Literal) and item.is_string:
                files.append(item.name)
    return files


def _duckdb_hex64(self: Any, node: Hex64) -> str:
    digest = self.sql(node, "this")
    return f"CAST(('0x' || SUBSTRING({digest}, 1, 16)) AS UBIGINT)"


def _spark_hex64(self: Any, node: Hex64) -> str:
    digest = self.sql(node, "this")
    return f"CAST(CONV(SUBSTRING({digest}, 1, 16), 16, 10) AS DECIMAL(20, 0))"


def _duckdb_top(self: Any, node: TopN) -> str:
    name = "MAX" if node.args["largest"].this else "MIN"
    return f"{name}({self.sql(node, 'this')}, {self.sql(node, 'count')})"


def _spark_top(self: Any, node: TopN, where: str = "") -> str:
    largest = bool(node.args["largest"].this)
    collected = f"COLLECT_LIST({self.sql(node, 'this')}){where}"
    return f"SLICE(SORT_ARRAY({collected}, {'FALSE' if largest else 'TRUE'}), 1, {self.sql(node, 'count')})"


def _spark_filter(self: Any, node: exp.Filter) -> str:
    inner = node.this
    if isinstance(inner, TopN):
        return _spark_top(self, inner, f" FILTER({self.sql(node, 'expression').strip()})")
    # A FILTER follows the aggregate call; parenthesised, a field of its result may follow it.
    return f"({self.filter_sql(node)})"


def _spark_leaf(self: Any, node: exp.ReadParquet) -> str:
    return leaf_view(_files(node))


def _is_date(node: exp.Expr) -> bool:
    kind = node.type.this if node.type is not None else None
    return kind in (exp.DataType.Type.DATE, exp.DataType.Type.DATE32)


def _spark_sub(self: Any, node: exp.Sub) -> str:
    """DuckDB's ``date - date`` is a whole number of days; Spark's is an interval: ``DATEDIFF`` on Spark."""
    left, right = node.this, node.expression
    if _is_date(left) and _is_date(right):
        return f"DATEDIFF({self.sql(left)}, {self.sql(right)})"
    return str(self.binary(node, "-"))


_FRACTIONAL = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}


def _spark_cast(self: Any, node: exp.Cast) -> str:
    """DuckDB rounds a fraction cast to a whole-number type (2.5 becomes 3); Spark truncates: rounded first."""
    to, operand = node.args.get("to"), node.this
    kind = operand.type.this if operand is not None and operand.type is not None else None
    if to is not None and to.this in exp.DataType.INTEGER_TYPES and kind in _FRACTIONAL:
        node = node.copy()
        node.set("this", exp.Round(this=node.this))
    return str(self.cast_sql(node, safe_prefix="TRY_" if isinstance(node, exp.TryCast) else None))


def _spark_div(self: Any, node: exp.Div) -> str:
    """DuckDB's ``/`` divides in floating point whatever the operands (decimals too); so does this."""
    return f"CAST({self.sql(node, 'this')} AS DOUBLE) / CAST({self.sql(node, 'expression')} AS DOUBLE)"


class TrustDuckDB(DuckDB):
    class Generator(DuckDB.Generator):  # type: ignore[valid-type,misc]
        TRANSFORMS = {**DuckDB.Generator.TRANSFORMS, Hex64: _duckdb_hex64, TopN: _duckdb_top}


class TrustSpark(Spark):
    class Generator(Spark.Generator):  # type: ignore[valid-type,misc]
        TRANSFORMS = {
            **Spark.Generator.TRANSFORMS,
            Hex64: _spark_hex64,
            TopN: _spark_top,
            exp.Filter: _spark_filter,
            exp.ReadParquet: _spark_leaf,
            exp.Sub: _spark_sub,
            exp.Div: _spark_div,
            exp.Cast: _spark_cast,
            exp.TryCast: _spark_cast,
        }


ENGINE_DIALECTS: dict[str, type] = {"duckdb": TrustDuckDB, "spark": TrustSpark}


def generate(tree: exp.Expr, engine: str = "duckdb") -> str:
    """The engine's SQL for a generated tree."""
    dialect = ENGINE_DIALECTS[engine]
    return str(tree.sql(dialect=dialect, copy=False))
