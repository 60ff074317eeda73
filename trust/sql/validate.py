"""Stage 2: an explicit allow-list of what the trust understands. Everything else is refused.

Deny by default: a node type, function, join kind or clause not named here is rejected with its
name and position, so a new DuckDB feature is forbidden until someone adds it on purpose.
Which aggregates a *policy* may allow (min, max, median, quantiles) are accepted here and
reported to the policy, which refuses them unless a project is approved for them.
"""

from __future__ import annotations

from sqlglot import exp

from trust.errors import NotAllowed
from trust.sql.parse import Parsed

STRUCTURE = (
    exp.Select, exp.Union, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order,
    exp.Ordered, exp.Limit, exp.With, exp.CTE, exp.Subquery, exp.Table, exp.TableAlias, exp.Alias,
    exp.Column, exp.Identifier, exp.Star, exp.Distinct,
)
VALUES = (exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple, exp.DataType, exp.DataTypeParam, exp.Var)
PREDICATES = (
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.In,
    exp.Between, exp.Like, exp.ILike,
)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg)
CONDITIONALS = (exp.Case, exp.If, exp.Coalesce, exp.Nullif)
SCALAR_FUNCTIONS = (
    exp.Cast, exp.TryCast, exp.Upper, exp.Lower, exp.Substring, exp.Length, exp.Trim, exp.Concat,
    exp.DPipe, exp.Round, exp.Abs, exp.Floor, exp.Ceil, exp.Year, exp.Month, exp.Quarter,
    exp.Extract, exp.TimestampTrunc, exp.DateTrunc, exp.Greatest, exp.Least,
)
AGGREGATES = (exp.Count, exp.Sum, exp.Avg)
POLICY_AGGREGATES = (exp.Min, exp.Max, exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile)
ALLOWED = STRUCTURE + VALUES + PREDICATES + ARITHMETIC + CONDITIONALS + SCALAR_FUNCTIONS + AGGREGATES + POLICY_AGGREGATES

ALLOWED_CAST_TYPES = {
    exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
    exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL, exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT, exp.DataType.Type.DATE, exp.DataType.Type.BOOLEAN,
}
ALLOWED_EXTRACT_PARTS = {"year", "quarter", "month"}
SELECT_CLAUSES = {"with_", "expressions", "distinct", "from_", "joins", "where", "group", "having", "order", "limit"}
UNION_CLAUSES = {"with_", "this", "expression", "distinct", "order", "limit"}
JOIN_ARGS = {"this", "on", "side", "kind", "using"}


def position(node: exp.Expression) -> tuple[int, int] | None:
    """Line and column of the first token of ``node`` that sqlglot kept a position for."""
    for n in node.walk():
        meta = n.meta if hasattr(n, "_meta") and n._meta else None
        if meta and "line" in meta:
            return int(meta["line"]), int(meta["col"])
    return None


def _name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return f"function {node.name}()"
    if isinstance(node, exp.Func):
        return f"function {node.sql_name().lower()}()"
    return node.key.upper()


def _reject(node: exp.Expression, message: str, rule: str, construct: str | None = None) -> NotAllowed:
    pos = position(node)
    where = f" at line {pos[0]}, column {pos[1]}" if pos else ""
    return NotAllowed(f"{message}{where}.", rule=rule, construct=construct or _name(node), position=pos)


def _check_node(node: exp.Expression, depth: int, max_depth: int) -> None:
    if depth > max_depth * 4:
        raise _reject(node, f"The query nests expressions more than {max_depth * 4} levels deep; simplify it", "nesting_too_deep")
    if not isinstance(node, ALLOWED):
        raise _reject(
            node,
            f"{_name(node)} is not on the trust's allow-list (see docs/sql.md for what is accepted)",
            "not_on_allow_list",
        )
    if isinstance(node, exp.Select):
        extra = sorted(k for k, v in node.args.items() if v and k not in SELECT_CLAUSES)
        if extra:
            raise _reject(node, f"The {extra[0].rstrip('_').upper()} clause is not accepted", "clause_not_allowed", extra[0])
    elif isinstance(node, exp.Union):
        if type(node) is not exp.Union:
            raise _reject(node, f"{node.key.upper()} is not accepted; only UNION and UNION ALL are", "set_operation")
        extra = sorted(k for k, v in node.args.items() if v and k not in UNION_CLAUSES)
        if extra:
            raise _reject(node, f"UNION with {extra[0].rstrip('_').upper()} is not accepted", "clause_not_allowed", extra[0])
    elif isinstance(node, exp.Join):
        extra = sorted(k for k, v in node.args.items() if v and k not in JOIN_ARGS)
        side, kind = node.side.upper(), node.kind.upper()
        if extra or side not in {"", "LEFT"} or kind not in {"", "INNER", "OUTER"}:
            label = " ".join(x for x in (node.args.get("method") and str(node.args["method"]), side, kind) if x) or extra[0]
            raise _reject(node, f"{label.upper()} JOIN is not accepted; use JOIN or LEFT JOIN with ON", "join_kind", label)
        if not node.args.get("on") and not node.args.get("using"):
            raise _reject(node, "A join without ON or USING (a cross join) is not accepted", "cross_join")
    elif isinstance(node, exp.Star):
        if any(node.args.values()):
            raise _reject(node, "SELECT * with EXCLUDE, REPLACE, RENAME or LIKE is not accepted; name the columns", "star_modifier")
    elif isinstance(node, exp.Table):
        if not isinstance(node.this, exp.Identifier) or any(
            node.args.get(k) for k in exp.Table.arg_types if k not in {"this", "alias", "db", "catalog"}
        ):
            raise _reject(node, "Only catalogue datasets (department.dataset) can be read", "table_not_dataset")
        if node.this.quoted and any(ch in node.name for ch in "./:\\"):
            raise _reject(node, "A file or URL cannot be read as a table; use a catalogue dataset", "file_as_table")
        if node.args.get("catalog"):
            raise _reject(node, "Name datasets as department.dataset, without a catalogue prefix", "table_not_dataset")
    elif isinstance(node, exp.Identifier):
        if not node.name or "\x00" in node.name:
            raise _reject(node, "An empty or invalid identifier is not accepted", "bad_identifier")
    elif isinstance(node, exp.Literal):
        if len(node.this) > 200:
            raise _reject(node, "A literal longer than 200 characters is not accepted", "literal_too_long")
    elif isinstance(node, exp.DataType):
        if node.this not in ALLOWED_CAST_TYPES or node.expressions and node.this != exp.DataType.Type.DECIMAL:
            raise _reject(node, f"CAST to {node.sql('duckdb')} is not accepted; use a plain number, text, date or boolean type", "cast_type")
    elif isinstance(node, exp.Extract):
        if node.name.lower() not in ALLOWED_EXTRACT_PARTS:
            raise _reject(node, f"EXTRACT({node.name}) is not accepted; use year, quarter or month", "date_part")
    elif isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        unit = node.args.get("unit")
        if unit is None or unit.name.lower() not in ALLOWED_EXTRACT_PARTS:
            raise _reject(node, "date_trunc is accepted only to year, quarter or month", "date_part")
    elif isinstance(node, exp.Group):
        if node.args.get("all") or any(node.args.get(k) for k in ("rollup", "cube", "grouping_sets", "totals")):
            raise _reject(node, "GROUP BY ALL, ROLLUP, CUBE and GROUPING SETS are not accepted yet; list the group keys", "group_by_form")
    elif isinstance(node, exp.Limit):
        if not isinstance(node.expression, exp.Literal) or node.expression.is_string:
            raise _reject(node, "LIMIT takes a plain number", "limit")
    elif isinstance(node, exp.Subquery):
        if not isinstance(node.parent, (exp.From, exp.Join, exp.CTE, exp.Union)) and not isinstance(node.parent, exp.Subquery):
            raise _reject(node, "A subquery is accepted only in FROM, JOIN or WITH; join to it instead", "scalar_subquery", "subquery")
    elif isinstance(node, (exp.Select, exp.Union)) is False and isinstance(node, exp.Query):
        raise _reject(node, "This kind of query is not accepted", "not_on_allow_list")


def validate(parsed: Parsed, *, max_depth: int = 12) -> None:
    """Raise ``NotAllowed`` for the first construct outside the allow-list."""
    stack: list[tuple[exp.Expression, int, int]] = [(parsed.tree, 0, 0)]
    while stack:
        node, depth, query_depth = stack.pop()
        _check_node(node, depth, max_depth)
        if isinstance(node, (exp.Select, exp.Union)):
            query_depth += 1
            if query_depth > max_depth:
                raise _reject(node, f"The query nests more than {max_depth} queries deep; flatten it with CTEs", "nesting_too_deep", "subquery")
            if isinstance(node.parent, (exp.In, exp.Exists)) or (
                node.parent is not None and not isinstance(node.parent, (exp.Subquery, exp.CTE, exp.Union, exp.From, exp.Join))
            ):
                raise _reject(node, "A subquery is accepted only in FROM, JOIN or WITH; join to it instead", "scalar_subquery", "subquery")
        if isinstance(node, exp.Limit) and node.parent is not parsed.tree:
            raise _reject(node, "LIMIT is accepted only on the outermost query", "limit")
        for child in node.iter_expressions():
            stack.append((child, depth + 1, query_depth))
