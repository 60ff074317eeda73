"""The last check before Spark runs a query: the SQL it is given, re-read after translation.

Spark SQL is not a sandbox. On a default session a query can read any file (``parquet.`/path```),
call Java (``reflect``, ``java_method``, ``try_reflect``), read environment variables and settings
through ``${env:X}`` / ``${system:X}`` / ``${spark.conf}`` text substitution, run a script
(``TRANSFORM ... USING 'sh'``), add a jar, create tables over paths, and ``SET`` its own settings back.
The trust generates every statement Spark runs, so nothing an analyst types reaches Spark as written;
this module is the second line behind the generator, in two parts:

``check(spark_sql, views)``
    Parses the Spark SQL with sqlglot's ``spark`` dialect and accepts it only if it is one query
    built from an allow-list, default-deny: every node of the tree must be of a class named in
    ``STRUCTURE`` or ``SYNTAX``, or a function whose Spark name is in ``FUNCTIONS``; structural
    nodes may carry only the clauses in ``ARGS`` and the flags in ``FLAGS``; every table is a plain
    name of a view the engine registered for this query (``views``) or of a CTE in scope; the only
    parameters are the named ones passed in (``:trust_key``); no unqualified column has a name Spark
    would read as a function (``NILADIC``: ``SELECT `user``` is CURRENT_USER()). Before parsing, the
    raw text must start a query and hold no comment, hint, semicolon, ``${``, or non-ASCII outside
    quotes, so sqlglot and Spark cannot read it differently there.
    Not accepted, on purpose: ``VALUES`` lists, table functions (``range``, ``read_files``,
    ``IDENTIFIER(...)``), ``LATERAL VIEW`` and generators, lambdas, ``TABLESAMPLE``, hints,
    ``DISTRIBUTE/SORT/CLUSTER BY``, ``PIVOT``, recursive CTEs, ``OFFSET``, named windows, positional
    or ``$`` parameters, qualified function names (``builtin.reflect``) and qualified columns
    (``db.t.c``). The trust's generator needs none of them; each is one line to add here if it
    ever does.

``verify_session(spark)``
    Before each query, reads back the settings the guard's reasoning relies on
    (``SESSION_CHECKS``, values from ``trust.engine.spark.session.LOCKED_CONF``) and refuses to run
    on a session where any has changed.

What Spark 4.3 itself can enforce (read from ``spark-catalyst_2.13-4.3.0.jar``: ``StaticSQLConf``
and ``CallMethodViaReflection``), so the lockdown holds even if this guard were bypassed:

- ``spark.sql.restrictedMode.enabled=true`` (static, new in 4.x): ``reflect``, ``java_method``,
  ``try_reflect`` and ``TRANSFORM ... USING`` are refused during analysis, however spelled
  (``builtin.reflect``, backquoted). Static: ``SET`` cannot turn it off.
- ``spark.sql.reflect.allowList`` (static): regular expressions matched against ``class.method``;
  empty (the default) allows every static method. The trust sets ``(?!)``, a non-empty list that
  matches nothing, so reflection stays shut should restricted mode ever be off.
- ``spark.sql.runSQLOnFiles=false``: no path tables; but it is a runtime setting that ``SET``
  can turn back on, hence the guard's ban on ``SET`` and ``verify_session``.
- ``spark.sql.variable.substitute=false``: ``${env:HOME}`` stays text (on by default, it returns
  the process's environment to any string literal).
- ``spark.sql.scripting.enabled=false``: no ``BEGIN ... END`` scripts (several statements in one
  call; on by default in 4.3). ``spark.sql.path.enabled=false``: no ``SET PATH``.
- ``spark.sql.parser.escapedStringLiterals=false`` and ``spark.sql.ansi.doubleQuotedIdentifiers=false``:
  Spark reads backslash escapes and ``"..."`` strings as sqlglot's Spark dialect does.

Spark has no setting that freezes runtime settings or restricts which built-in functions run; the
function allow-list lives here.

>>> check("SELECT `v`.`region`, COUNT(*) AS `n` FROM trust_leaf_1 AS `v` GROUP BY `v`.`region`", {"trust_leaf_1"})
>>> check("SELECT reflect('java.lang.System', 'getenv', 'HOME')", {"trust_leaf_1"})
Traceback (most recent call last):
...
trust.engine.spark.guard.SparkSQLRefused: The SQL the trust generated for Spark used function reflect() (line 1, column 14), which the Spark engine does not allow. This is an internal error of the trust, not a fault in your query: please report it to the trust's administrators.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token

from trust.engine.spark.session import LOCKED_CONF
from trust.errors import ConfigurationError, NotAllowed, QueryFailed

__all__ = [
    "ARGS",
    "CAST_TYPES",
    "DEFAULT_PARAMETERS",
    "FLAGS",
    "FUNCTIONS",
    "NILADIC",
    "SESSION_CHECKS",
    "STRUCTURE",
    "SYNTAX",
    "SparkSQLRefused",
    "check",
    "verify_session",
]

# Spark function names (lower case) a query may call. A name counts as the text spells it (``substr``
# and ``substring`` are two entries), or, for the functions sqlglot parses with their own syntax
# (SUBSTRING, EXTRACT, LISTAGG ...), as sqlglot's Spark generator writes the node. Extend with care:
# each name is code the JVM runs on the trust's behalf.
FUNCTIONS: frozenset[str] = frozenset(
    {
        # aggregates
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "max_by",
        "min_by",
        "stddev",
        "stddev_samp",
        "stddev_pop",
        "variance",
        "var_samp",
        "var_pop",
        "median",
        "percentile",
        "percentile_cont",
        "percentile_disc",
        "percentile_approx",
        "bool_or",
        "collect_list",  # the n largest contributions: SLICE(SORT_ARRAY(COLLECT_LIST(x)), 1, n)
        "listagg",  # unit hashes as text (the population fingerprint)
        "grouping",
        "grouping_id",
        # conditionals (CASE, IF and casts are syntax, below)
        "coalesce",
        "nullif",
        # text
        "concat",
        "substring",
        "substr",
        "lower",
        "upper",
        "length",
        "trim",
        # hashing: record keys SHA2(:trust_key || ':' || unit), unit hashes MD5(unit), 64 bits via CONV
        "sha2",
        "md5",
        "conv",
        "hex",
        "unhex",
        # arithmetic
        "abs",
        "round",
        "floor",
        "ceil",
        "ln",
        "exp",
        "power",
        "sqrt",
        "greatest",
        "least",
        # dates
        "year",
        "month",
        "quarter",
        "extract",
        "date_trunc",
        "trunc",
        "to_date",
        "datediff",  # date - date
        "date_add",  # date + n
        "date_sub",  # date - n
        # structs and the arrays of largest contributions
        "struct",
        "named_struct",
        "slice",
        "sort_array",
    }
)

# Names Spark resolves to a function call when no column has them, quoted or not (``SELECT `user```
# returns the process's user): an unqualified column may not be named so. From Spark 4.3's
# LiteralFunctionResolution, plus CURRENT_PATH.
NILADIC: frozenset[str] = frozenset(
    {
        "user",
        "current_user",
        "session_user",
        "current_date",
        "current_timestamp",
        "current_time",
        "localtime",
        "localtimestamp",
        "current_path",
        "grouping__id",
    }
)

# Query structure: not functions, accepted by class (with the clauses in ARGS).
STRUCTURE: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.With,
    exp.CTE,
    exp.Subquery,
    exp.From,
    exp.Join,
    exp.Table,
    exp.TableAlias,
    exp.Where,
    exp.Group,
    exp.GroupingSets,
    exp.Rollup,
    exp.Cube,
    exp.Having,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.Window,
    exp.WindowSpec,
    exp.Filter,  # agg(...) FILTER (WHERE ...)
    exp.Alias,
    exp.Column,
    exp.Identifier,
    exp.Star,
    exp.Distinct,
    exp.Dot,  # a struct's field: MAX(STRUCT(...)).x
    exp.PropertyEQ,  # STRUCT(x AS a)
    exp.Var,  # a date part: DATE_TRUNC('MONTH', d), EXTRACT(YEAR FROM d)
    exp.Placeholder,  # :trust_key
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Tuple,
    exp.DataType,
    exp.DataTypeParam,
)

# Operators and constructs: accepted by class, with no function name to check.
SYNTAX: tuple[type[exp.Expr], ...] = (
    exp.Case,
    exp.If,
    exp.Cast,
    exp.TryCast,  # sqlglot reads Spark's CAST (not ANSI: NULL on failure) as TryCast
    exp.And,
    exp.Or,
    exp.Not,
    exp.Neg,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.IntDiv,
    exp.Mod,
    exp.DPipe,
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
    exp.Exists,
)

# The only arguments these nodes may have; anything else (a table's sample, version or db, a
# SELECT's hint, laterals or DISTRIBUTE BY, a join's USING, a column's db) is refused.
_SET_OPERATION_ARGS = frozenset({"this", "expression", "distinct", "with_", "order", "limit"})
ARGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Select: frozenset(
        {"expressions", "from_", "joins", "where", "group", "having", "order", "limit", "with_", "distinct"}
    ),
    exp.Union: _SET_OPERATION_ARGS,
    exp.Intersect: _SET_OPERATION_ARGS,
    exp.Except: _SET_OPERATION_ARGS,
    exp.With: frozenset({"expressions"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.Subquery: frozenset({"this", "alias"}),
    exp.Table: frozenset({"this", "alias"}),
    exp.TableAlias: frozenset({"this", "columns"}),
    exp.Join: frozenset({"this", "on", "side", "kind"}),
    exp.Column: frozenset({"this", "table"}),
    exp.Star: frozenset(),
    exp.Dot: frozenset({"this", "expression"}),
    exp.Window: frozenset({"this", "partition_by", "order", "spec", "over"}),
    exp.Limit: frozenset({"expression"}),
    exp.Group: frozenset({"expressions", "grouping_sets", "rollup", "cube", "all"}),
    exp.Ordered: frozenset({"this", "desc", "nulls_first"}),
    exp.In: frozenset({"this", "expressions", "query"}),
    exp.Placeholder: frozenset({"this"}),
    exp.Distinct: frozenset({"expressions"}),
}

# Non-node arguments (flags) a structural or syntax node may carry besides ``this``; any other is a
# modifier not known here (``WITH RECURSIVE``, a materialised CTE, a NATURAL join). A listed function's
# flags are sqlglot's notes on its semantics, not text Spark reads: its name is what is checked.
FLAGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Identifier: frozenset({"quoted"}),
    exp.Literal: frozenset({"is_string"}),
    exp.DataType: frozenset({"nested"}),
    exp.DPipe: frozenset({"safe"}),
    exp.Div: frozenset({"safe", "typed"}),
    exp.TryCast: frozenset({"safe"}),
    exp.Ordered: frozenset({"desc", "nulls_first"}),
    exp.Union: frozenset({"distinct"}),
    exp.Intersect: frozenset({"distinct"}),
    exp.Except: frozenset({"distinct"}),
    exp.Join: frozenset({"side", "kind"}),
    exp.Group: frozenset({"all"}),
    exp.Window: frozenset({"over"}),
    exp.WindowSpec: frozenset({"kind", "start", "start_side", "end", "end_side"}),
}

T = exp.DType
CAST_TYPES: frozenset[exp.DType] = frozenset(
    {
        T.TINYINT,
        T.SMALLINT,
        T.INT,
        T.BIGINT,
        T.FLOAT,
        T.DOUBLE,
        T.DECIMAL,
        T.TEXT,
        T.VARCHAR,
        T.CHAR,
        T.BOOLEAN,
        T.DATE,
        T.TIMESTAMP,
        T.TIMESTAMPNTZ,
        T.TIMESTAMPTZ,
        T.ARRAY,  # the n largest contributions, as ARRAY<STRING> for min/max
    }
)

# Where a bare word (Var) may stand: a date part.
_DATE_PARTS: dict[type[exp.Expr], str] = {exp.TimestampTrunc: "unit", exp.DateTrunc: "unit", exp.Extract: "this"}

DEFAULT_PARAMETERS: frozenset[str] = frozenset({"trust_key"})  # the record-key secret (trust.sql.companions)

# Settings checked before every query (values: LOCKED_CONF). Each one is a premise of the checks above.
SESSION_CHECKS: tuple[str, ...] = (
    "spark.sql.runSQLOnFiles",
    "spark.sql.restrictedMode.enabled",
    "spark.sql.reflect.allowList",
    "spark.sql.variable.substitute",
    "spark.sql.scripting.enabled",
    "spark.sql.path.enabled",
    "spark.sql.parser.escapedStringLiterals",
    "spark.sql.ansi.doubleQuotedIdentifiers",
    "spark.sql.ansi.enabled",
    "spark.sql.catalogImplementation",
    "spark.sql.legacy.setCommandRejectsSparkCoreConfs",
)

_ALLOWED_CLASSES = frozenset(STRUCTURE) | frozenset(SYNTAX)
_SYNTAX_CLASSES = frozenset(SYNTAX)
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_LEADING_NAME = re.compile(r"\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)")
_SPARK = Spark()
_QUERY_STARTS = frozenset({sqlglot.TokenType.SELECT, sqlglot.TokenType.WITH, sqlglot.TokenType.L_PAREN})
_QUOTED = frozenset({sqlglot.TokenType.STRING, sqlglot.TokenType.IDENTIFIER})  # may hold any text


class SparkSQLRefused(QueryFailed):
    """The SQL generated for Spark used something the Spark engine does not run: a fault of the
    trust's generator, which the analyst cannot fix (HTTP 500, like any engine failure)."""

    def __init__(self, what: str, node: Any = None, *, rule: str = "spark_guard") -> None:
        where = _where(node)
        super().__init__(
            f"The SQL the trust generated for Spark used {what}{where}, which the Spark engine does not "
            "allow. This is an internal error of the trust, not a fault in your query: please report it "
            "to the trust's administrators.",
            rule=rule,
            construct=what,
        )


def _where(node: Any) -> str:
    meta = getattr(node, "meta", None) or {}
    if "line" in meta and "col" in meta:
        return f" (line {meta['line']}, column {meta['col']})"
    return ""


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check(spark_sql: str, views: Collection[str], *, parameters: Collection[str] = DEFAULT_PARAMETERS) -> None:
    """Raise unless ``spark_sql`` is one query over ``views`` (and its own CTEs) built from the allow-lists.

    ``views``: the temporary views the engine registered for this query, and only those; names
    compare case-insensitively, as Spark resolves them. ``parameters``: the named parameters
    (``:name``) the engine binds. Raises ``SparkSQLRefused`` (or ``NotAllowed`` for ``${``, which an
    analyst's string literal can carry)."""
    tokens = _check_text(spark_sql)
    try:
        statements = _SPARK.parser().parse(tokens, spark_sql)
    except Exception:  # noqa: BLE001 - sqlglot can fail on odd input with more than its own errors
        raise SparkSQLRefused("SQL that sqlglot's Spark dialect cannot parse") from None
    if len(statements) != 1 or statements[0] is None:
        raise SparkSQLRefused(f"{len([s for s in statements if s is not None])} statements instead of one")
    tree = statements[0]
    if not isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
        raise SparkSQLRefused(f"a {type(tree).__name__.upper()} statement instead of a query", tree)
    allowed_views = {v.lower() for v in views}
    allowed_parameters = set(parameters)
    for node in tree.walk():
        if isinstance(node, exp.Table):
            _check_table(node, allowed_views)
        elif isinstance(node, exp.Column):
            _check_column(node)
        elif isinstance(node, exp.Placeholder) and node.name not in allowed_parameters:
            raise SparkSQLRefused(f"parameter {_short(node.sql('spark'))}", node)
        _check_node(node, spark_sql)


def _check_text(sql: str) -> list[Token]:
    """Refuse what sqlglot and Spark could read differently: comments (Spark nests ``/* */``, hints
    hide in them), anything between tokens but plain whitespace, non-ASCII text outside quotes (the
    two lexers need not agree on which characters end a word), semicolons, and ``${`` (Spark
    substitutes it, when ``spark.sql.variable.substitute`` is on, before it parses)."""
    if "${" in sql:
        raise NotAllowed(
            "The query's text contains '${', which Spark reads as a variable reference; the Spark engine "
            "does not run SQL containing it. Remove '${' from the query (for example from a string literal).",
            rule="spark_variable_reference",
        )
    try:
        tokens = _SPARK.tokenize(sql)
    except Exception:  # noqa: BLE001 - sqlglot can fail on odd input with more than its own errors
        raise SparkSQLRefused("SQL that sqlglot's Spark dialect cannot tokenize") from None
    if not tokens:
        raise SparkSQLRefused("no statement")
    if tokens[0].token_type not in _QUERY_STARTS:
        raise SparkSQLRefused(f"a statement starting with {_short(tokens[0].text.upper(), 20)!r} instead of a query")
    position = 0
    for token in tokens:
        if token.comments:
            raise SparkSQLRefused("a comment (or hint)")
        if token.token_type in (sqlglot.TokenType.SEMICOLON, sqlglot.TokenType.HINT):
            raise SparkSQLRefused("a semicolon" if token.token_type == sqlglot.TokenType.SEMICOLON else "a hint")
        if not _WHITESPACE.fullmatch(sql, position, token.start):
            raise SparkSQLRefused("text between tokens that is not whitespace (a comment?)")
        if token.token_type not in _QUOTED and not token.text.isascii():
            raise SparkSQLRefused("a character outside ASCII outside quotes (Spark may split words there)")
        position = token.end + 1
    if not _WHITESPACE.fullmatch(sql, position):
        raise SparkSQLRefused("text after the last token that is not whitespace (a comment?)")
    return tokens


def _check_node(node: exp.Expr, sql: str) -> None:
    cls = type(node)
    named = isinstance(node, exp.Func) and cls not in _SYNTAX_CLASSES
    if named:
        for name in _function_names(node, sql):
            if name not in FUNCTIONS:
                raise SparkSQLRefused(f"function {_short(name)}()", node)
    elif cls not in _ALLOWED_CLASSES:
        raise SparkSQLRefused(f"{_construct(node)}", node)
    allowed_args = ARGS.get(cls)
    flags = FLAGS.get(cls, frozenset())
    for key, value in node.args.items():
        if value is None or value is False or value == []:
            continue
        if allowed_args is not None and key not in allowed_args:
            raise SparkSQLRefused(f"the clause {key.rstrip('_').upper()} on {type(node).__name__.upper()}", node)
        is_node = isinstance(value, exp.Expr) or (
            isinstance(value, list) and all(isinstance(v, exp.Expr) for v in value)
        )
        if not is_node and not named and key != "this" and key not in flags:
            raise SparkSQLRefused(f"the modifier {key!r} on {type(node).__name__.upper()}", node)
    if isinstance(node, exp.Var) and not _is_date_part(node):
        raise SparkSQLRefused(f"the bare word {_short(node.name)!r}", node)
    if isinstance(node, exp.DataType) and node.this not in CAST_TYPES:
        raise SparkSQLRefused(f"the type {_short(node.sql('spark'))}", node)
    if isinstance(node, exp.Dot) and not isinstance(node.expression, exp.Identifier):
        raise SparkSQLRefused("a qualified function name", node)
    if isinstance(node, exp.PropertyEQ) and not isinstance(node.parent, exp.Struct):
        raise SparkSQLRefused("':=' outside STRUCT(...)", node)


def _construct(node: exp.Expr) -> str:
    if isinstance(node, exp.Hint):
        return "a hint"
    if isinstance(node, exp.Values):
        return "a VALUES list"
    if isinstance(node, exp.QueryTransform):
        return "TRANSFORM ... USING (a script)"
    if isinstance(node, exp.TableSample):
        return "TABLESAMPLE"
    if isinstance(node, exp.Lateral):
        return "LATERAL VIEW"
    if isinstance(node, exp.Parameter):
        return "a positional or $ parameter"
    return f"the construct {type(node).__name__}"


def _function_names(node: exp.Expr, sql: str) -> Iterator[str]:
    """The function's name as the text spells it, which is what Spark runs (an alias sqlglot folds into
    a known function, ``log`` read as ``LN``, is checked as ``log``). Where sqlglot kept no position
    (functions with their own syntax: ``SUBSTRING``, ``EXTRACT``, ``LISTAGG``), the name its Spark
    generator writes for the node, with the arguments stubbed out (only the name is wanted)."""
    if isinstance(node, exp.Anonymous):
        yield node.name.lower()
        return
    start, end = node.meta.get("start"), node.meta.get("end")
    if isinstance(start, int) and isinstance(end, int):
        yield sql[start : end + 1].lower()  # anything but a plain name is not in FUNCTIONS: refused
        return
    try:
        written = _stub(node).sql("spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError:
        written = ""
    match = _LEADING_NAME.match(written)
    yield match.group(1).lower() if match else type(node).__name__.lower()


def _stub(node: exp.Expr) -> exp.Expr:
    """The node with each argument a literal 1: generating it costs nothing, however deep the node."""
    args: dict[str, Any] = {}
    for key, value in node.args.items():
        if isinstance(value, exp.Expr):
            args[key] = exp.Literal.number(1)
        elif isinstance(value, list):
            args[key] = [exp.Literal.number(1) if isinstance(v, exp.Expr) else v for v in value]
        else:
            args[key] = value
    return type(node)(**args)


def _is_date_part(node: exp.Var) -> bool:
    key = _DATE_PARTS.get(type(node.parent)) if node.parent is not None else None
    return key is not None and node.arg_key == key


def _check_table(table: exp.Table, views: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise SparkSQLRefused(f"the table function {_short(table.this.sql('spark'))}", table)
    if table.args.get("db") or table.args.get("catalog"):
        name = ".".join(part.sql("spark") for part in table.parts)
        raise SparkSQLRefused(f"the qualified table name {_short(name)}", table)
    name = table.name.lower()
    if name not in views and name not in _visible_ctes(table):
        raise SparkSQLRefused(f"the table {_short(table.name)!r} (not a view of this query)", table)


def _check_column(column: exp.Column) -> None:
    if column.args.get("db") or column.args.get("catalog"):
        raise SparkSQLRefused(f"the qualified column name {_short(column.sql('spark'))}", column)
    if not column.table and column.name.lower() in NILADIC:
        raise SparkSQLRefused(f"the name {_short(column.name)!r}, which Spark reads as a function call", column)


def _visible_ctes(table: exp.Table) -> set[str]:
    """CTE names in scope at ``table``: every CTE of an enclosing WITH, except that inside a CTE's
    own body only the CTEs defined before it (no recursion)."""
    names: set[str] = set()
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = node.expressions
            index = next((i for i, cte in enumerate(ctes) if cte is child), len(ctes))
            names.update(cte.alias_or_name.lower() for cte in ctes[:index])
        else:
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With) and child is not with_:
                names.update(cte.alias_or_name.lower() for cte in with_.expressions)
        child, node = node, node.parent
    return names


def verify_session(spark: Any) -> None:
    """Raise ``ConfigurationError`` unless every setting in ``SESSION_CHECKS`` still has its locked value."""
    for key in SESSION_CHECKS:
        expected = LOCKED_CONF[key]
        try:
            actual = spark.conf.get(key)
        except Exception:  # noqa: BLE001 - an unreadable setting is as bad as a changed one
            actual = None
        if not _same(actual, expected):
            raise ConfigurationError(
                f"The Spark session's setting {key} is {actual!r}, not {expected!r} as the trust locks it; "
                "no query runs on it. Restart the trust (on a Spark Connect server, start the server with "
                "the settings in trust.engine.spark.session.LOCKED_CONF).",
                setting=key,
            )


def _same(actual: str | None, expected: str) -> bool:
    if actual is None:
        return False
    if expected.lower() in ("true", "false"):
        return actual.strip().lower() == expected.lower()
    return actual == expected
