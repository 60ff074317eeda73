"""Which rows an aggregate's value is about: its contributor partition.

``count(*)`` and ``sum(x)`` are about every row of their group. ``sum(CASE WHEN c THEN x END)``
is about the rows where ``c`` holds, and, since ``count(*)`` of the same group is visible, also
about the rows where it does not: the difference of two safe cells can be a small one. So each
aggregate splits its group into parts: rows whose argument is NULL (part 0), and one part per
branch of its CASE (parts 1..n). Disclosure control then counts units in *every* non-empty
part, and a cell is shown only when each part is safe.

>>> import sqlglot
>>> agg = sqlglot.parse_one("sum(CASE WHEN sex = 'F' THEN 1 ELSE 0 END)", read="duckdb")
>>> p = partition(agg)
>>> p.parts, p.part.sql("duckdb")
(3, "CASE WHEN (CASE WHEN sex = 'F' THEN 1 ELSE 0 END) IS NULL THEN 0 WHEN sex = 'F' THEN 1 ELSE 2 END")
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp


@dataclass(frozen=True)
class Partition:
    part: exp.Expr  # an integer part id for each row: 0 = the argument is NULL
    parts: int  # part ids run from 0 to parts - 1


def branching(arg: exp.Expr) -> list[exp.Expr]:
    """The CASE / IF constructs in ``arg`` that split rows (an IF inside a CASE is one of its branches)."""
    return [n for n in arg.walk() if isinstance(n, (exp.Case, exp.If)) and not isinstance(n.parent, exp.Case)]


def branch_values(node: exp.Expr) -> list[exp.Expr | None]:
    """The value of each branch of a CASE or IF, the ELSE last (None when there is none)."""
    if isinstance(node, exp.Case):
        return [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
    return [node.args.get("true"), node.args.get("false")]


def branch_conditions(node: exp.Expr) -> list[exp.Expr]:
    """The condition of each WHEN (or the IF), as a boolean over the row."""
    if isinstance(node, exp.Case):
        operand = node.args.get("this")
        conds = [i.this for i in node.args.get("ifs") or []]
        return [exp.EQ(this=operand.copy(), expression=c.copy()) if operand is not None else c.copy() for c in conds]
    return [node.this.copy()]


def partition(agg: exp.AggFunc) -> Partition | None:
    """The parts ``agg``'s group splits into, or None when it is about every row (``count(*)``)."""
    arg = agg.this
    if arg is None or isinstance(arg, exp.Star):
        return None
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0]
    null = exp.Is(this=exp.paren(arg.copy(), copy=False), expression=exp.Null())
    ifs = [exp.If(this=null, true=exp.Literal.number(0))]
    found = branching(arg)
    if not found:
        return Partition(part=exp.Case(ifs=ifs, default=exp.Literal.number(1)), parts=2)
    conds = branch_conditions(found[0])
    ifs += [exp.If(this=c, true=exp.Literal.number(i + 1)) for i, c in enumerate(conds)]
    return Partition(part=exp.Case(ifs=ifs, default=exp.Literal.number(len(conds) + 1)), parts=len(conds) + 2)
