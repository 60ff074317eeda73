"""How the SQL stages refuse: a ``NotAllowed`` that names the rule, the construct and where it is."""

from __future__ import annotations

from sqlglot import exp

from trust.errors import NotAllowed


def position(node: exp.Expr) -> tuple[int, int] | None:
    """Line and column of the first token of ``node`` that sqlglot kept a position for."""
    for n in node.walk():
        meta = n.meta if hasattr(n, "_meta") and n._meta else None
        if meta and "line" in meta:
            col = int(meta["col"])  # sqlglot keeps the column where the token ends
            if "start" in meta and "end" in meta:
                col -= int(meta["end"]) - int(meta["start"])
            return int(meta["line"]), max(col, 1)
    return None


def construct_name(node: exp.Expr) -> str:
    """How a person would name ``node``: ``function first()``, ``WINDOW``, ``LATERAL``."""
    if isinstance(node, exp.Anonymous):
        return f"function {node.name.lower()}()"
    if isinstance(node, exp.Func):
        return f"function {node.sql_name().lower()}()"
    return node.key.upper()


def reject(node: exp.Expr, message: str, rule: str, construct: str | None = None) -> NotAllowed:
    """A ``NotAllowed`` naming the rule, the construct and where it is in the analyst's text."""
    pos = position(node)
    where = f" at line {pos[0]}, column {pos[1]}" if pos else ""
    return NotAllowed(f"{message}{where}.", rule=rule, construct=construct or construct_name(node), position=pos)
