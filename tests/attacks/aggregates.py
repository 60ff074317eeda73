"""Which rows each published number is about, found by running the analyst's own SQL elsewhere.

The auditor must know, for every cell it receives, which atoms (and, for the ground truth, which
people) it sums over. Writing that by hand per sequence would test the sequences' author, not the
trust, so instead the analyst's SELECT is rewritten once with sqlglot: every aggregate becomes a
list of what it would add up, and the rewritten query runs in plain DuckDB, over one row per atom
(incidence) or over the raw Parquet (ground truth). ROLLUP, CUBE and GROUPING SETS, WHERE and
conditional aggregates then mean exactly what DuckDB says they mean.

    >>> t = rewrite("SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex", lambda a: sqlglot.exp.column("atom_id"),
    ...             sqlglot.exp.column("atom_id"))
    >>> t.sql
    'SELECT sex, ARRAY_AGG(atom_id) AS n, 0 AS __branch, ARRAY_AGG(atom_id) AS __group FROM dwp.uc_claims GROUP BY sex'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from tests.attacks.catalogue import DatasetInfo, dataset

BRANCH, GROUP = "__branch", "__group"


class Unsupported(ValueError):
    """The auditor cannot model this SQL; the sequence must be written another way."""


@dataclass(frozen=True)
class Aggregate:
    """An aggregate in normal form: ``kind`` (count or sum) of ``measure`` over the rows where
    ``condition`` holds (None: every row of the group)."""

    kind: str
    measure: str | None
    condition: exp.Expression | None
    splits: bool  # its argument is a CASE: the trust judges the row on each part, not just the group
    distinct: bool = False

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.measure)


@dataclass(frozen=True)
class Rewritten:
    sql: str
    dataset: DatasetInfo
    # per UNION ALL branch, per output position: the aggregate there, or None for a group key
    layout: tuple[tuple[Aggregate | None, ...], ...]

    @property
    def width(self) -> int:
        return len(self.layout[0])

    def key_positions(self, branch: int) -> list[int]:
        return [i for i, a in enumerate(self.layout[branch]) if a is None]


def _number(node: exp.Expression) -> float | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        return float(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -float(node.this.this)
    return None


def _zero_or_null(node: exp.Expression | None) -> bool:
    return node is None or isinstance(node, exp.Null) or _number(node) == 0


def normal_form(node: exp.Expression, info: DatasetInfo) -> Aggregate:
    """``count(*)``, ``count(DISTINCT unit)``, ``count(x)``, ``count_if(c)``, ``sum(measure)``, ``sum(1)``
    and ``sum(CASE WHEN c THEN 1 | measure [ELSE 0] END)``; anything else is ``Unsupported``."""
    arg = node.this
    if isinstance(node, exp.Count):
        if arg is None or isinstance(arg, exp.Star):
            return Aggregate("count", None, None, False)
        if isinstance(arg, exp.Distinct):
            inner = arg.expressions[0]
            if isinstance(inner, exp.Column) and inner.name == info.unit_key:
                return Aggregate("count", None, None, False, distinct=True)
            raise Unsupported(f"count(DISTINCT {inner.sql('duckdb')}): only the unit key is modelled")
        splits = any(isinstance(n, (exp.Case, exp.If)) for n in arg.walk())
        return Aggregate("count", None, exp.Not(this=exp.Is(this=exp.paren(arg.copy()), expression=exp.Null())), splits)
    if isinstance(node, exp.CountIf):
        return Aggregate("count", None, arg.copy(), True)
    if isinstance(node, exp.Sum):
        if _number(arg) == 1:
            return Aggregate("count", None, None, False)
        if isinstance(arg, exp.Column):
            if not info.is_measure(arg.name):
                raise Unsupported(f"sum({arg.name}): not a measure")
            return Aggregate("sum", arg.name, None, False)
        if (
            isinstance(arg, exp.Case)
            and arg.this is None
            and len(arg.args.get("ifs") or []) == 1
            and _zero_or_null(arg.args.get("default"))
        ):
            when = arg.args["ifs"][0]
            value = when.args["true"]
            if _number(value) == 1:
                return Aggregate("count", None, when.this.copy(), True)
            if isinstance(value, exp.Column) and info.is_measure(value.name):
                return Aggregate("sum", value.name, when.this.copy(), True)
        raise Unsupported(
            f"{node.sql('duckdb')}: only sum(measure), sum(1) and sum(CASE WHEN c THEN 1 | measure "
            "ELSE 0 END) are modelled"
        )
    raise Unsupported(f"{node.sql('duckdb')}: only count and sum are modelled (avg, min, max are not linear)")


def tables(tree: exp.Expression) -> list[str]:
    return sorted({f"{t.db}.{t.name}" for t in tree.find_all(exp.Table)})


def rewrite(sql: str, payload: Callable[[Aggregate], exp.Expression], group_payload: exp.Expression) -> Rewritten:
    """``sql`` with each aggregate replaced by ``ARRAY_AGG(payload(agg)) FILTER (WHERE condition)``, plus two
    columns: the UNION ALL branch and ``ARRAY_AGG(group_payload)`` over the whole group."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    names = tables(tree)
    if len(names) != 1:
        raise Unsupported(f"one dataset per query is modelled; this reads {names}")
    info = dataset(names[0])
    tree.set("order", None)
    selects = [tree] if isinstance(tree, exp.Select) else list(_branches(tree))
    layout = []
    for b, select in enumerate(selects):
        for part in ("having", "limit", "qualify", "joins", "with"):
            if select.args.get(part):
                raise Unsupported(f"{part.upper()} is not modelled")
        if any(isinstance(s, exp.Subquery) for s in select.find_all(exp.Subquery)):
            raise Unsupported("subqueries are not modelled")
        select.set("order", None)
        row: list[Aggregate | None] = []
        new = []
        for i, e in enumerate(select.expressions):
            inner = e.unalias()
            if not any(isinstance(n, exp.AggFunc) for n in inner.walk()):
                row.append(None)
                new.append(e)
                continue
            if not isinstance(inner, exp.AggFunc):
                raise Unsupported(f"{e.sql('duckdb')}: an expression around an aggregate is not modelled")
            agg = normal_form(inner, info)
            listed: exp.Expression = exp.ArrayAgg(this=payload(agg))
            if agg.condition is not None:
                listed = exp.Filter(this=listed, expression=exp.Where(this=agg.condition.copy()))
            new.append(exp.alias_(listed, e.alias_or_name if isinstance(e, exp.Alias) else f"agg_{i}"))
            row.append(agg)
        new.append(exp.alias_(exp.Literal.number(b), BRANCH))
        new.append(exp.alias_(exp.ArrayAgg(this=group_payload.copy()), GROUP))
        select.set("expressions", new)
        layout.append(tuple(row))
    if len({len(r) for r in layout}) != 1:
        raise Unsupported("UNION ALL branches of different widths")
    return Rewritten(tree.sql("duckdb"), info, tuple(layout))


def _branches(tree: exp.Expression):
    if isinstance(tree, exp.Union):
        if tree.args.get("distinct"):
            raise Unsupported("UNION (distinct) is not modelled; use UNION ALL")
        yield from _branches(tree.left)
        yield from _branches(tree.right)
    elif isinstance(tree, exp.Select):
        yield tree
    else:
        raise Unsupported(f"{type(tree).__name__} is not modelled")
