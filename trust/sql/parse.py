"""Stage 1: read the analyst's text into exactly one sqlglot tree, or refuse cleanly.

Anything the two parsers (sqlglot and DuckDB) could read differently is refused here, before
any tree is built: control and invisible characters, non-ASCII letters outside string literals
(look-alikes such as a Cyrillic ``с`` in ``uс_claims``), numbers glued to names (``0x10`` is 16
to DuckDB but ``0 AS x10`` to sqlglot), parameters, regex operators (``~``, ``!~``, ``~~``),
statements sqlglot only half-understands (``Command``, or a keyword it reads as a bare column
such as ``CHECKPOINT``), and nesting deep enough to exhaust the parser.

>>> parse("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region;").tree.key
'select'
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from trust.errors import ParseFailed

DIALECT = "duckdb"
_OK_WHITESPACE = {" ", "\t", "\n", "\r"}
_BAD_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"}
_QUERY_TYPES = (exp.Select, exp.Union)
_OPEN = (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE)
_CLOSE = (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE)
_NAME_TOKENS = (TokenType.VAR, TokenType.IDENTIFIER)
_PARAMETERS = (TokenType.PARAMETER, TokenType.PLACEHOLDER, TokenType.SESSION_PARAMETER)


@dataclass(frozen=True)
class Parsed:
    sql: str
    tree: exp.Query


def _position(sql: str, index: int) -> tuple[int, int]:
    line = sql.count("\n", 0, index) + 1
    col = index - (sql.rfind("\n", 0, index) + 1) + 1
    return line, col


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}"


def _check_characters(sql: str) -> None:
    for i, ch in enumerate(sql):
        if ch in _OK_WHITESPACE or " " < ch < "\x7f":
            continue
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            line, col = _position(sql, i)
            raise ParseFailed(
                f"The SQL contains an invisible or control character ({_char_name(ch)}) at line {line}, "
                f"column {col}. Retype that part using plain spaces and printable characters.",
                rule="unusual_character",
                construct=_char_name(ch),
                position=(line, col),
            )


def _reject_token(tok: Token, message: str, rule: str, construct: str | None = None) -> ParseFailed:
    return ParseFailed(
        f"{message} (line {tok.line}, column {tok.col}).",
        rule=rule,
        construct=construct or tok.text,
        position=(tok.line, tok.col),
    )


def _check_tokens(sql: str, max_depth: int) -> None:
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except TokenError as exc:
        raise ParseFailed(
            f"The SQL could not be read: {exc}. Check quotes and brackets are closed.", rule="parse_error"
        ) from None
    depth, limit = 0, max_depth * 4
    for i, tok in enumerate(tokens):
        if tok.token_type in _OPEN:
            depth += 1
            if depth > limit:
                raise _reject_token(
                    tok,
                    f"The SQL nests brackets more than {limit} deep. Flatten it with a CTE (WITH ... AS (...))",
                    "nesting_too_deep",
                    "(",
                )
        elif tok.token_type in _CLOSE:
            depth -= 1
        if tok.token_type is not TokenType.STRING and not tok.text.isascii():
            ch = next(c for c in tok.text if not c.isascii())
            raise _reject_token(
                tok,
                f"The name {tok.text!r} contains the non-ASCII character {_char_name(ch)}. Dataset and "
                "column names are plain ASCII; a look-alike letter would name something else. Retype it",
                "non_ascii_name",
                _char_name(ch),
            )
        if tok.token_type in _PARAMETERS:
            raise _reject_token(
                tok,
                f"Parameters and placeholders ({tok.text!r}) are not accepted; write the value as a literal",
                "parameter",
            )
        if tok.token_type not in (TokenType.STRING, TokenType.IDENTIFIER) and "~" in tok.text:
            raise _reject_token(
                tok,
                f"Regular-expression operator {tok.text!r} is not accepted: its meaning "
                "differs between engines. Use LIKE with % and _ instead",
                "regex_operator",
            )
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.token_type is TokenType.COMMA and nxt is not None and nxt.token_type is TokenType.COMMA:
            raise _reject_token(
                nxt,
                "Two commas in a row: sqlglot would skip the empty item but DuckDB refuses it. Remove one",
                "parse_error",
                ",,",
            )
        if (
            tok.token_type is TokenType.NUMBER
            and nxt is not None
            and nxt.start == tok.end + 1
            and nxt.token_type in _NAME_TOKENS
        ):
            raise _reject_token(
                tok,
                f"The number {tok.text!r} runs straight into {nxt.text!r}; DuckDB and the trust would read "
                f"{tok.text + nxt.text!r} differently. Put a space between them, or write the number in decimal",
                "ambiguous_number",
                tok.text + nxt.text,
            )


def _statement_kind(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    if isinstance(tree, exp.Column):
        return f"the bare word {tree.sql()!r}"
    return tree.key.upper()


def parse(sql: str, *, max_length: int = 20000, max_depth: int = 12) -> Parsed:
    """One SELECT statement as a tree; a trailing semicolon or comment is fine."""
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
        # A comment after the final semicolon (`SELECT ...; -- done`) comes back as an empty
        # `Semicolon` statement holding only that comment: it is not a second statement.
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None and not isinstance(s, exp.Semicolon)]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        line, col = err.get("line"), err.get("col")
        where = f" near line {line}, column {col}" if line else ""
        detail = str(err.get("description", "syntax error")).split(". Line")[0]
        raise ParseFailed(
            f"The SQL could not be parsed{where}: {detail}. Check the syntax; only SELECT is accepted.",
            rule="parse_error",
            position=(int(line), int(col or 1)) if line else None,
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
        kind = _statement_kind(tree)
        raise ParseFailed(
            f"Only SELECT queries are accepted; this is {kind}. Rewrite it as one SELECT.",
            rule="select_only",
            construct=kind,
        )
    return Parsed(sql=sql, tree=tree)
