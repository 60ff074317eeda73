"""``{name}`` parameters in ``%%trust`` cells: Python values written into the SQL as literals.

    >>> bind_parameters("SELECT count(*) AS n FROM dwp.uc_claims WHERE region IN {regions}",
    ...                 {"regions": ["E12000009", "E12000007"]})
    "SELECT count(*) AS n FROM dwp.uc_claims WHERE region IN ('E12000009', 'E12000007')"
    >>> sql_literal("O'Brien"), sql_literal(-3), sql_literal((1, 2.5))
    ("'O''Brien'", '(-3)', '(1, 2.5)')

Only values that have one plain SQL spelling are accepted: text (quoted, ``'`` doubled), numbers,
booleans, and lists or tuples of those (an IN-list). ``{{`` and ``}}`` are literal braces. Comments
are left as written, so a commented-out line needs none of its variables. The result is only text
the analyst could have typed: the trust parses and checks it like any other query.
"""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Mapping
from typing import Any

from trust.errors import TrustError


class ParameterError(TrustError):
    """A ``{name}`` in a ``%%trust`` cell that cannot be written as SQL; nothing was sent to the trust."""

    code = "parameter_error"


FORMS = "a string, a number, or a list or tuple of them"


def sql_literal(value: Any, name: str = "value") -> str:
    """``value`` as a DuckDB literal; ``ParameterError`` for anything without one plain spelling."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ParameterError(
                f"`{{{name}}}` is an empty {type(value).__name__}: `IN ()` is not SQL. "
                "Give at least one value, or leave the condition out.",
                parameter=name,
            )
        return "(" + ", ".join(_scalar(v, name, in_list=True) for v in value) + ")"
    return _scalar(value, name)


def _scalar(value: Any, name: str, *, in_list: bool = False) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, numbers.Integral):
        return _signed(str(int(value)))
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        if not _finite(value):
            raise ParameterError(
                f"`{{{name}}}` is {value}, which SQL has no literal for; use a finite number.", parameter=name
            )
        # Plain digits: an exponent (1e-05) would read as a number glued to a name.
        text = format(decimal.Decimal(repr(float(value))) if isinstance(value, numbers.Real) else value, "f")
        return _signed(text)
    what = "a list or tuple inside a list" if in_list and isinstance(value, (list, tuple)) else _kind(value)
    where = "an item of " if in_list else ""
    raise ParameterError(
        f"`{{{name}}}`: {where}a parameter must be {FORMS}, not {what}. "
        f"Convert it first (e.g. `{name} = list(...)` or `str(...)`).",
        parameter=name,
    )


def _finite(value: Any) -> bool:
    return value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(float(value))


def _signed(text: str) -> str:
    # In brackets, so `x -{n}` can never become `x --1`, a comment.
    return f"({text})" if text.startswith("-") else text


def _kind(value: Any) -> str:
    if value is None:
        return "None (write `IS NULL` in the SQL instead)"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("a builtins.", "a ")


def bind_parameters(sql: str, namespace: Mapping[str, Any]) -> str:
    """``sql`` with each ``{name}`` outside comments replaced by the literal of ``namespace[name]``."""
    out: list[str] = []
    i, n = 0, len(sql)
    quote: str | None = None  # inside '…' (a string) or "…" (a quoted name)
    while i < n:
        ch = sql[i]
        if quote is None and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
            continue
        if quote is None and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end])
            i = end
            continue
        if ch in "'\"":
            if quote is None:
                quote = ch
            elif quote == ch:
                if sql.startswith(ch * 2, i):  # '' or "" inside: an escaped quote, still inside
                    out.append(ch * 2)
                    i += 2
                    continue
                quote = None
            out.append(ch)
            i += 1
            continue
        if sql.startswith("{{", i) or sql.startswith("}}", i):
            out.append(ch)
            i += 2
            continue
        if ch == "}":
            raise ParameterError(
                f"A lone `}}` at {_where(sql, i)}: write `}}}}` for a literal brace.", position=_position(sql, i)
            )
        if ch == "{":
            end = sql.find("}", i)
            name = sql[i + 1 : end].strip() if end > 0 else ""
            if end < 0 or not name.isidentifier():
                raise ParameterError(
                    f"`{sql[i : end + 1 if end > 0 else i + 1][:40]}` at {_where(sql, i)} is not a parameter: "
                    "write `{name}` for a Python variable, or `{{` and `}}` for literal braces.",
                    position=_position(sql, i),
                )
            if quote is not None:
                raise ParameterError(
                    f"`{{{name}}}` at {_where(sql, i)} is inside quotes: leave the quotes out (the value is "
                    "quoted for you), or write `{{` and `}}` for literal braces.",
                    parameter=name,
                    position=_position(sql, i),
                )
            if name not in namespace:
                raise ParameterError(
                    f"No variable `{name}` in this notebook for `{{{name}}}` at {_where(sql, i)}: "
                    f"set it first (e.g. `{name} = 'E12000009'`), or write `{{{{` and `}}}}` for literal braces.",
                    parameter=name,
                    position=_position(sql, i),
                )
            literal = sql_literal(namespace[name], name)
            if out and (out[-1][-1:].isalnum() or out[-1][-1:] in "_'\""):
                literal = " " + literal  # never glued to a word: E'…' and X'…' would read otherwise
            out.append(literal)
            i = end + 1
            if i < n and (sql[i].isalnum() or sql[i] in "_'\""):
                out.append(" ")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _position(sql: str, index: int) -> tuple[int, int]:
    return sql.count("\n", 0, index) + 1, index - (sql.rfind("\n", 0, index) + 1) + 1


def _where(sql: str, index: int) -> str:
    line, column = _position(sql, index)
    return f"line {line}, column {column}"
