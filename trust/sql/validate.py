"""Stage 2: an explicit allow-list of what the trust understands. Everything else is refused.

Deny by default: a node type, function, modifier, join kind or clause not named here is
rejected with its name and position, so a new DuckDB feature is forbidden until someone adds
it on purpose. Which aggregates a *policy* may allow (min, max, median, quantiles) are accepted
here and reported to the policy, which refuses them unless a project is approved for them.

>>> from trust.sql.parse import parse
>>> validate(parse("SELECT region, count(*) FROM dwp.uc_claims GROUP BY ALL"))
>>> validate(parse("SELECT list(nino) FROM dwp.uc_claims"))
Traceback (most recent call last):
...
trust.errors.NotAllowed: function array_agg() is not on the trust's allow-list (see docs/sql.md for what is accepted) at line 1, column 8.
"""

from __future__ import annotations

import re

from sqlglot import exp

from trust.sql.grouping import check as check_grouping
from trust.sql.parse import Parsed
from trust.sql.refusals import construct_name, position, reject

__all__ = ["ALLOWED", "MODIFIERS", "position", "reject", "validate"]

STRUCTURE = (
    exp.Select,
    exp.Union,
    exp.From,
    exp.Join,
    exp.Where,
    exp.Group,
    exp.Having,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.With,
    exp.CTE,
    exp.Subquery,
    exp.Table,
    exp.TableAlias,
    exp.Alias,
    exp.Column,
    exp.Identifier,
    exp.Star,
    exp.Distinct,
)
VALUES = (exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple, exp.DataType, exp.DataTypeParam, exp.Var)
PREDICATES = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg)
CONDITIONALS = (exp.Case, exp.If, exp.Coalesce, exp.Nullif)
SCALAR_FUNCTIONS = (
    exp.Cast,
    exp.TryCast,
    exp.Upper,
    exp.Lower,
    exp.Substring,
    exp.Length,
    exp.Trim,
    exp.Concat,
    exp.DPipe,
    exp.Round,
    exp.Abs,
    exp.Floor,
    exp.Ceil,
    exp.Year,
    exp.Month,
    exp.Quarter,
    exp.Extract,
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.Greatest,
    exp.Least,
)
AGGREGATES = (exp.Count, exp.Sum, exp.Avg)
POLICY_AGGREGATES = (exp.Min, exp.Max, exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile)
# Accepted where trust/sql/grouping.py can expand them into a UNION ALL (checked by the group_by_form rule).
GROUPINGS = (exp.Rollup, exp.Cube, exp.GroupingSets, exp.Grouping, exp.GroupingId)
ALLOWED = (
    STRUCTURE
    + VALUES
    + PREDICATES
    + ARITHMETIC
    + CONDITIONALS
    + SCALAR_FUNCTIONS
    + AGGREGATES
    + POLICY_AGGREGATES
    + GROUPINGS
)
_ALLOWED_TYPES = frozenset(ALLOWED)

# Flags (non-node arguments) a node may carry; any other truthy flag is a modifier we do not know.
MODIFIERS: dict[type, set[str]] = {
    exp.Count: {"big_int"},
    exp.Concat: {"coalesce", "safe"},
    exp.DPipe: {"safe"},
    exp.TryCast: {"safe"},
    exp.Greatest: {"ignore_nulls"},
    exp.Least: {"ignore_nulls"},
    exp.Ordered: {"desc", "nulls_first"},
    exp.Union: {"distinct"},
    exp.Join: {"side", "kind", "method"},
    exp.Identifier: {"quoted"},
    exp.Literal: {"is_string"},
    exp.Between: {"symmetric"},
    exp.Group: {"all"},
    exp.With: {"recursive"},
    exp.DataType: {"nested"},
}
ALLOWED_CAST_TYPES = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.DATE,
    exp.DataType.Type.BOOLEAN,
}
ALLOWED_DATE_PARTS = {"year", "quarter", "month"}
SELECT_CLAUSES = {"with_", "expressions", "distinct", "from_", "joins", "where", "group", "having", "order", "limit"}
UNION_CLAUSES = {"with_", "this", "expression", "distinct", "order", "limit"}
JOIN_ARGS = {"this", "on", "side", "kind", "using"}
MAX_LITERAL = 200
# DuckDB's reserved words (duckdb_keywords() 'reserved'), and its join words: unquoted, they are syntax
# to DuckDB, where sqlglot sometimes reads them as names (FROM t GROUP parses as a table alias).
RESERVED = frozenset(
    """
ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE DEFAULT
DEFERRABLE DESC DESCRIBE DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM GRANT GROUP HAVING IN INITIALLY
INTERSECT INTO LATERAL LEADING LIMIT NOT NULL OFFSET ON ONLY OR ORDER PIVOT PIVOT_LONGER PIVOT_WIDER PLACING PRIMARY
QUALIFY REFERENCES RETURNING SELECT SHOW SOME SUMMARIZE SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE UNPIVOT
USING VARIADIC WHEN WHERE WINDOW WITH JOIN LEFT RIGHT INNER OUTER FULL CROSS NATURAL SEMI ANTI ASOF POSITIONAL
""".split()
)
_FILE_LIKE = re.compile(r"[/\\:*?]|\.(parquet|csv|tsv|json|jsonl|ndjson|txt|db|duckdb|sqlite|xlsx|gz|zst)$", re.I)
_DATASET_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


def _check_modifiers(node: exp.Expr) -> None:
    allowed = MODIFIERS.get(type(node), set())
    for key, value in node.args.items():
        if isinstance(value, (exp.Expression, list)) or not value or key == "this" or key in allowed:
            continue
        raise reject(
            node,
            f"{construct_name(node)} with {key.rstrip('_').upper()} is not accepted",
            "clause_not_allowed",
            f"{construct_name(node)} {key.rstrip('_').upper()}",
        )


def _check_table(node: exp.Table) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise reject(
            node,
            f"Table function {construct_name(node.this)} is not accepted; read catalogue datasets "
            "by name (department.dataset)",
            "table_not_dataset",
            construct_name(node.this),
        )
    extra = [k for k, v in node.args.items() if v and k not in {"this", "alias", "db", "catalog"}]
    if extra:
        raise reject(node, f"{extra[0].upper()} on a table is not accepted", "clause_not_allowed", extra[0].upper())
    name = node.name
    if any(isinstance(p, exp.Identifier) and p.quoted and _FILE_LIKE.search(p.name) for p in node.parts):
        raise reject(node, "A file or URL cannot be read as a table; use a catalogue dataset", "file_as_table", name)
    if node.this.quoted and _DATASET_LIKE.match(name) and not node.args.get("db"):
        raise reject(
            node,
            f'"{name}" in double quotes is one name containing a dot, not a dataset; write {name} '
            f'(or "{name.split(".")[0]}"."{name.split(".")[1]}")',
            "quoted_dotted_name",
            name,
        )
    if node.args.get("catalog"):
        raise reject(node, "Name datasets as department.dataset, without a catalogue prefix", "table_not_dataset")


def _check_subquery_place(node: exp.Expr) -> None:
    parent = node.parent
    if isinstance(node, exp.Subquery) and isinstance(parent, (exp.From, exp.Join, exp.Union, exp.Subquery)):
        return
    if isinstance(node, (exp.Select, exp.Union)) and isinstance(
        parent, (exp.Subquery, exp.CTE, exp.Union, exp.From, exp.Join)
    ):
        return
    if parent is None:
        return
    holder = parent.parent if isinstance(parent, exp.Subquery) else parent
    if isinstance(holder, (exp.In, exp.Exists, exp.Any, exp.All)) or isinstance(parent, (exp.In, exp.Exists)):
        raise reject(
            node,
            "A subquery inside IN or EXISTS is not accepted; join to it instead, e.g. "
            "JOIN (SELECT DISTINCT person_id FROM ...) AS s ON s.person_id = u.person_id",
            "subquery_in_condition",
            "subquery",
        )
    raise reject(
        node,
        "A scalar subquery (a query used as a value) is not accepted: it can carry a single row's "
        "value into the result. Put the query in FROM or WITH and join to it",
        "scalar_subquery",
        "subquery",
    )


def _check_node(node: exp.Expr, depth: int, max_depth: int) -> None:
    if depth > max_depth * 4:
        raise reject(
            node, f"The query nests expressions more than {max_depth * 4} levels deep; simplify it", "nesting_too_deep"
        )
    if isinstance(node, (exp.Subquery, exp.Select, exp.Union, exp.Exists)) or (
        isinstance(node, exp.Query) and not isinstance(node, (exp.Select, exp.Union))
    ):
        if isinstance(node, exp.Exists):
            raise reject(
                node,
                "EXISTS (subquery) is not accepted; join to the subquery instead, e.g. "
                "JOIN (SELECT DISTINCT person_id FROM ...) AS s ON s.person_id = u.person_id",
                "subquery_in_condition",
                "EXISTS",
            )
        _check_subquery_place(node)
    if isinstance(node, exp.Dot):
        raise reject(
            node,
            "Method-call and field syntax (column.function() or a.b.c) is not accepted; write function(column)",
            "method_call",
            node.sql("duckdb")[:60],
        )
    if type(node) not in _ALLOWED_TYPES:  # exact types: a subclass (PivotAlias, JSONCast, ...) is something else
        raise reject(
            node,
            f"{construct_name(node)} is not on the trust's allow-list (see docs/sql.md for what is accepted)",
            "not_on_allow_list",
        )
    _check_modifiers(node)
    if isinstance(node, exp.Select):
        extra = sorted(k for k, v in node.args.items() if v and k not in SELECT_CLAUSES)
        if extra:
            raise reject(
                node,
                f"The {extra[0].rstrip('_').upper()} clause is not accepted",
                "clause_not_allowed",
                extra[0].rstrip("_").upper(),
            )
    elif isinstance(node, exp.Union):
        if type(node) is not exp.Union:
            raise reject(node, f"{node.key.upper()} is not accepted; only UNION and UNION ALL are", "set_operation")
        extra = sorted(k for k, v in node.args.items() if v and k not in UNION_CLAUSES)
        if extra:
            raise reject(
                node,
                f"UNION with {extra[0].rstrip('_').upper()} is not accepted",
                "clause_not_allowed",
                extra[0].rstrip("_").upper(),
            )
    elif isinstance(node, exp.Join):
        extra = sorted(k for k, v in node.args.items() if v and k not in JOIN_ARGS)
        side, kind = node.side.upper(), node.kind.upper()
        if extra or side not in {"", "LEFT"} or kind not in {"", "INNER", "OUTER"}:
            method = node.args.get("method")
            label = " ".join(x for x in (str(method) if method else "", side, kind) if x) or extra[0].upper()
            raise reject(
                node, f"{label.upper()} JOIN is not accepted; use JOIN or LEFT JOIN with ON", "join_kind", label
            )
        if not node.args.get("on") and not node.args.get("using"):
            raise reject(node, "A join without ON or USING (a cross join) is not accepted", "cross_join")
    elif isinstance(node, exp.Star):
        if any(node.args.values()):
            raise reject(
                node,
                "SELECT * with EXCLUDE, REPLACE, RENAME or LIKE is not accepted; name the columns",
                "star_modifier",
            )
        if not isinstance(node.parent, (exp.Select, exp.Count, exp.Column)):
            raise reject(node, "* is accepted only as SELECT * and count(*)", "star_modifier")
    elif isinstance(node, exp.Column):
        if node.args.get("db") or node.args.get("catalog"):
            raise reject(
                node,
                f"{node.sql('duckdb')} has too many parts; write alias.column (give the dataset an alias in FROM)",
                "column_reference",
            )
        if isinstance(node.parent, exp.Like) and isinstance(node.this, exp.Star):
            raise reject(node, "SELECT * LIKE is not accepted; name the columns", "star_modifier")
    elif isinstance(node, exp.Table):
        _check_table(node)
    elif isinstance(node, exp.TableAlias):
        if node.args.get("columns"):
            raise reject(
                node,
                "Renaming columns in an alias list (AS t(a, b)) is not accepted; alias each column "
                "inside the subquery with AS",
                "column_alias_list",
            )
    elif isinstance(node, exp.With):
        if node.args.get("recursive"):
            raise reject(node, "WITH RECURSIVE is not accepted", "recursive_cte")
    elif isinstance(node, exp.CTE):
        if any(node.args.get(k) for k in exp.CTE.arg_types if k not in {"this", "alias"}):
            raise reject(
                node,
                "A CTE with MATERIALIZED or other options is not accepted; write WITH name AS (...)",
                "clause_not_allowed",
                "CTE options",
            )
    elif isinstance(node, exp.Distinct):
        if node.args.get("on"):
            raise reject(
                node,
                "DISTINCT ON picks one row per group, which is an individual value; use GROUP BY with an aggregate",
                "distinct_on",
                "DISTINCT ON",
            )
    elif isinstance(node, exp.Identifier):
        if not node.name:
            raise reject(node, "An empty name is not accepted", "bad_identifier")
        if not node.quoted and node.name.upper() in RESERVED:
            raise reject(
                node,
                f"{node.name} is a reserved word in DuckDB: as a name it must be in double quotes "
                f'("{node.name.lower()}"), and here it may stand for a clause the query is missing',
                "reserved_word",
                node.name,
            )
    elif isinstance(node, exp.Literal):
        if len(node.this) > MAX_LITERAL:
            raise reject(node, f"A literal longer than {MAX_LITERAL} characters is not accepted", "literal_too_long")
    elif isinstance(node, exp.Var):
        parent = node.parent
        if not (isinstance(parent, exp.Extract) and node.arg_key == "this") and not (
            isinstance(parent, (exp.TimestampTrunc, exp.DateTrunc)) and node.arg_key == "unit"
        ):
            raise reject(
                node,
                f"The keyword {node.name!r} is not accepted here (ORDER BY ALL and similar "
                "shorthands are not supported; name the columns)",
                "keyword_not_allowed",
                node.name,
            )
    elif isinstance(node, exp.DataType):
        if node.this not in ALLOWED_CAST_TYPES or node.expressions and node.this != exp.DataType.Type.DECIMAL:
            raise reject(
                node,
                f"CAST to {node.sql('duckdb')} is not accepted; use a plain number, text, date or boolean type",
                "cast_type",
                node.sql("duckdb"),
            )
    elif isinstance(node, exp.Extract):
        if node.name.lower() not in ALLOWED_DATE_PARTS:
            raise reject(node, f"EXTRACT({node.name}) is not accepted; use year, quarter or month", "date_part")
    elif isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        unit = node.args.get("unit")
        if unit is None or unit.name.lower() not in ALLOWED_DATE_PARTS:
            raise reject(node, "date_trunc is accepted only to year, quarter or month", "date_part")
    elif isinstance(node, (exp.Substring, exp.Round)):
        for key in ("start", "length", "decimals"):
            arg = node.args.get(key)
            value = arg.this if isinstance(arg, exp.Neg) else arg
            if arg is not None and (
                not isinstance(value, exp.Literal) or not value.is_int or abs(int(value.name)) > 1000
            ):
                raise reject(
                    node,
                    f"The {key} of {construct_name(node)} must be a whole number between -1000 and 1000",
                    "function_argument",
                )
    elif isinstance(node, (exp.Group, *GROUPINGS)):
        check_grouping(
            node
        )  # group_by_form: ROLLUP, CUBE, GROUPING SETS and GROUPING() only where they can be expanded
    elif isinstance(node, exp.Limit):
        if not isinstance(node.expression, exp.Literal) or node.expression.is_string or not node.expression.is_int:
            raise reject(node, "LIMIT takes a plain whole number", "limit")


def validate(parsed: Parsed, *, max_depth: int = 12) -> None:
    """Raise ``NotAllowed`` for the first construct outside the allow-list."""
    stack: list[tuple[exp.Expr, int, int]] = [(parsed.tree, 0, 0)]
    while stack:
        node, depth, query_depth = stack.pop()
        _check_node(node, depth, max_depth)
        if isinstance(node, (exp.Select, exp.Union)):
            query_depth += 1
            if query_depth > max_depth:
                raise reject(
                    node,
                    f"The query nests more than {max_depth} queries deep; flatten it with CTEs",
                    "nesting_too_deep",
                    "subquery",
                )
        if isinstance(node, exp.Limit) and node.parent is not parsed.tree:
            raise reject(node, "LIMIT is accepted only on the outermost query", "limit")
        if isinstance(node, exp.Order) and node.parent is not parsed.tree:
            raise reject(node, "ORDER BY is accepted only on the outermost query", "order_by_place")
        # Children in source order, so the first offending construct in the text is the one named.
        for child in reversed(list(node.iter_expressions())):
            stack.append((child, depth + 1, query_depth))
