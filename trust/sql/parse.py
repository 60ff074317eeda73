"""Stage 1: read the analyst's text into exactly one sqlglot tree, or refuse cleanly.

Anything the two parsers (sqlglot and DuckDB) could read differently is refused here:
control and invisible characters, statements sqlglot only half-understands (``Command``, or a
keyword it reads as a bare column such as ``CHECKPOINT``), and regex operators (``~``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from trust.errors import ParseFailed

DIALECT = "duckdb"
_OK_WHITESPACE = {" ", "\t", "\n", "\r"}
_QUERY_TYPES = (exp.Select, exp.Union)


@dataclass(frozen=True)
class Parsed:
    sql: str
    tree: exp.Query


def _position(sql: str, index: int) -> tuple[int, int]:
    line = sql.count("\n", 0, index) + 1
    col = index - (sql.rfind("\n", 0, index) + 1) + 1
    return line, col


def _check_characters(sql: str) -> None:
    for i, ch in enumerate(sql):
        if ch in _OK_WHITESPACE:
            continue
        category = unicodedata.category(ch)
        if category in {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"}:
            line, col = _position(sql, i)
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            raise ParseFailed(
                f"The SQL contains an invisible or control character ({name}) at line {line}, column {col}. "
                "Retype that part using plain spaces and printable characters.",
                rule="unusual_character",
                construct=name,
                position=(line, col),
            )


def _check_tokens(sql: str, max_depth: int) -> None:
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except TokenError as exc:
        raise ParseFailed(f"The SQL could not be read: {exc}. Check quotes and brackets are closed.",
                          rule="parse_error") from None
    depth = 0
    for tok in tokens:
        if tok.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE):
            depth += 1
            if depth > max_depth * 4:
                raise ParseFailed(
                    f"The SQL nests brackets more than {max_depth * 4} deep (line {tok.line}). "
                    "Flatten it with a CTE (WITH ... AS (...)).",
                    rule="nesting_too_deep",
                    position=(tok.line, tok.col),
                )
        elif tok.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE):
            depth -= 1
        elif tok.token_type not in (TokenType.STRING, TokenType.IDENTIFIER) and "~" in tok.text:
            raise ParseFailed(
                f"Regular-expression operator {tok.text!r} at line {tok.line} is not accepted: "
                "its meaning differs between engines. Use LIKE with % and _ instead.",
                rule="regex_operator",
                construct=tok.text,
                position=(tok.line, tok.col),
            )


def parse(sql: str, *, max_length: int = 20000, max_depth: int = 12) -> Parsed:
    """One SELECT statement as a tree; a trailing semicolon or comment is fine.

    >>> parse("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region;").tree.key
    'select'
    """
    if not isinstance(sql, str) or not sql.strip():
        raise ParseFailed("The query is empty. Write one SELECT statement.", rule="empty_query")
    if len(sql) > max_length:
        raise ParseFailed(
            f"The query is {len(sql)} characters long; the limit is {max_length}. Shorten it or split it.",
            rule="query_too_long",
        )
    _check_characters(sql)
    _check_tokens(sql, max_depth)
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        line, col = err.get("line"), err.get("col")
        where = f" near line {line}, column {col}" if line else ""
        detail = str(err.get("description", "syntax error")).split(". Line")[0]
        raise ParseFailed(
            f"The SQL could not be parsed{where}: {detail}. Check the syntax; only SELECT is accepted.",
            rule="parse_error",
            position=(line, col) if line else None,
        ) from None
    except (TokenError, RecursionError):
        raise ParseFailed(
            "The SQL could not be parsed: it is nested too deeply or is malformed. Simplify it with CTEs.",
            rule="nesting_too_deep",
        ) from None
    if len(statements) != 1:
        raise ParseFailed(
            f"The text holds {len(statements)} statements; send exactly one SELECT.",
            rule="one_statement",
        )
    tree = statements[0]
    if not isinstance(tree, _QUERY_TYPES):
        if isinstance(tree, exp.Command):
            kind = str(tree.this).upper()
        elif isinstance(tree, exp.Column):
            kind = f"the bare word {tree.sql()!r}"
        else:
            kind = tree.key.upper()
        raise ParseFailed(
            f"Only SELECT queries are accepted; this is {kind!s}. Rewrite it as one SELECT.",
            rule="select_only",
            construct=kind,
        )
    # Comments are the analyst's free text: none of it may travel into the SQL that runs.
    for node in tree.walk():
        node.comments = None
    return Parsed(sql=sql, tree=tree)
