"""What the trust publishes for a column: its aggregates, each perturbed, and the formula over them.

``formula`` turns an output column or a HAVING condition into a ``trust.sdc.formula.Formula``
whose leaves are the query's aggregates; ``kind`` says how each aggregate is perturbed. Anything
the formula language cannot express is refused here, before the query runs, with a message that
says what to write instead (rule ``unpublishable_expression``): a refusal that depends only on the
SQL, never on the data.

    >>> import sqlglot
    >>> node = sqlglot.parse_one("SELECT sum(CASE WHEN sex = 'F' THEN 1 ELSE 0 END) / count(*)").expressions[0]
    >>> aggs = aggregates(node)
    >>> [kind(a) for a in aggs]
    ['count', 'count']
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from trust.errors import NotAllowed
from trust.sdc.formula import Agg, Case, Formula, Lit, Op
from trust.sql.refusals import reject

RULE = "unpublishable_expression"

_BINARY: dict[type[exp.Expr], str] = {
    exp.Add: "add", exp.Sub: "sub", exp.Mul: "mul", exp.Div: "div", exp.IntDiv: "intdiv", exp.Mod: "mod",
    exp.EQ: "eq", exp.NEQ: "neq", exp.LT: "lt", exp.LTE: "lte", exp.GT: "gt", exp.GTE: "gte",
    exp.And: "and", exp.Or: "or",
}  # fmt: skip
_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.Abs: "abs", exp.Floor: "floor", exp.Ceil: "ceil", exp.Nullif: "nullif", exp.Coalesce: "coalesce",
    exp.Greatest: "greatest", exp.Least: "least",
}  # fmt: skip
_WHOLE = {t.value for t in exp.DataType.INTEGER_TYPES}
_FRACTIONAL = {"DOUBLE", "FLOAT", "REAL", "DECIMAL"}


def aggregates(node: exp.Expr) -> list[exp.AggFunc]:
    """The outermost aggregates of ``node``, in order of appearance."""
    return [a for a in node.find_all(exp.AggFunc) if a.find_ancestor(exp.AggFunc) is None]


def _indicator(node: exp.Expr | None) -> bool:
    """Every value is 0, 1 or NULL whatever the data: ``CASE WHEN c THEN 1 ELSE 0 END``, ``1``."""
    if node is None:
        return False
    node = node.unnest()
    if isinstance(node, exp.Literal) and not node.is_string:
        return node.name in {"0", "1", "0.0", "1.0"}
    if isinstance(node, exp.Null):
        return True
    if isinstance(node, exp.Case) and node.args.get("this") is None:
        values = [i.args.get("true") for i in node.args.get("ifs") or []]
        default = node.args.get("default")
        return all(_indicator(v) for v in values) and (default is None or _indicator(default))
    if isinstance(node, exp.If):
        false = node.args.get("false")
        return _indicator(node.args.get("true")) and (false is None or _indicator(false))
    if isinstance(node, (exp.Cast, exp.TryCast)):
        inner = node.this.unnest() if node.this is not None else None
        return isinstance(inner, exp.Predicate) or _indicator(inner)
    return False


def kind(agg: exp.AggFunc) -> str:
    """How the aggregate is perturbed: ``count`` (a count, or a sum of 0/1 indicators), ``sum``, ``avg``
    (a sum over a count), ``avg_count`` (the share of an indicator), ``min``, ``max`` or ``scaled``."""
    arg = agg.this
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0] if len(arg.expressions) == 1 else None
    if isinstance(agg, exp.Count):
        return "count"
    if isinstance(agg, exp.Sum):
        return "count" if _indicator(arg) else "sum"
    if isinstance(agg, exp.Avg):
        return "avg_count" if _indicator(arg) else "avg"
    if isinstance(agg, exp.Min):
        return "min"
    if isinstance(agg, exp.Max):
        return "max"
    return "scaled"  # median, quantiles: a value that moves with the cell's own noise


def formula(node: exp.Expr, slot_of: Callable[[exp.AggFunc], int]) -> Formula:
    """``node`` as a formula over aggregate slots; ``NotAllowed`` for what cannot be recomputed."""
    if isinstance(node, exp.Alias):
        return formula(node.this, slot_of)
    if isinstance(node, exp.AggFunc):
        return Agg(slot_of(node))
    if isinstance(node, exp.Paren):
        return formula(node.this, slot_of)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return Lit(node.name)
        text = node.name
        return Lit(int(text) if text.lstrip("-").isdigit() else float(text))
    if isinstance(node, exp.Null):
        return Lit(None)
    if isinstance(node, exp.Boolean):
        return Lit(bool(node.this))
    if isinstance(node, exp.Neg):
        return Op("neg", (formula(node.this, slot_of),))
    if isinstance(node, exp.Not):
        return Op("not", (formula(node.this, slot_of),))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return Op("isnull", (formula(node.this, slot_of),))
    op = _BINARY.get(type(node))
    if op is not None:
        return Op(op, (formula(node.this, slot_of), formula(node.expression, slot_of)))
    fn = _FUNCTIONS.get(type(node))
    if fn is not None:
        operands = [a for a in (node.this, *node.expressions) if a is not None]
        if isinstance(node, exp.Nullif):
            operands = [node.this, node.expression]
        return Op(fn, tuple(formula(a, slot_of) for a in operands))
    if isinstance(node, exp.Round):
        digits = node.args.get("decimals")
        rounded = (formula(node.this, slot_of),) + ((formula(digits, slot_of),) if digits is not None else ())
        return Op("round", rounded)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        target = node.to.this.value if node.to is not None else ""
        inner = formula(node.this, slot_of)
        if target in _WHOLE:
            return Op("int", (inner,))
        if target in _FRACTIONAL:
            return Op("float", (inner,))
        raise _refuse(node, f"a cast to {node.to.sql('duckdb') if node.to else target}")
    if isinstance(node, exp.Case) and node.args.get("this") is None:
        whens = tuple((formula(i.this, slot_of), formula(i.args["true"], slot_of)) for i in node.args.get("ifs") or [])
        default = node.args.get("default")
        return Case(whens, formula(default, slot_of) if default is not None else Lit(None))
    if isinstance(node, exp.If):
        false = node.args.get("false")
        return Case(((formula(node.this, slot_of), formula(node.args["true"], slot_of)),),
                    formula(false, slot_of) if false is not None else Lit(None))  # fmt: skip
    if isinstance(node, exp.Column):
        raise _refuse(node, f"column {node.sql('duckdb')} next to an aggregate")
    raise _refuse(node, node.key.upper())


def _refuse(node: exp.Expr, what: str) -> NotAllowed:
    return reject(
        node,
        f"The trust publishes every number with noise, so it recomputes a column from its perturbed aggregates; "
        f"it cannot do that with {what}. Select the aggregates themselves and combine them after",
        RULE,
    )
