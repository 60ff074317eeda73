"""Totals: ``GROUP BY ROLLUP``, ``CUBE`` and ``GROUPING SETS`` become a UNION ALL of plain GROUP BYs.

Each grouping set is one branch, finest first. In a branch, a key the set leaves out reads as
NULL wherever it appears outside an aggregate (its column keeps its name), and ``GROUPING(...)``
/ ``GROUPING_ID(...)`` become that branch's constant. HAVING is copied into every branch; WITH and
ORDER BY go on the union. Everything after resolve then sees the shape an analyst's own
hand-written totals have, so the SQL stages, companions and disclosure control's linked totals
and secondary suppression need nothing new.

The rewrite is refused, never guessed, where it would be ambiguous or would hide from disclosure
control part of what a total adds up: a grouping construct or GROUPING() below the outermost
query, more than ``MAX_SETS`` sets, a key not shown in its own output column (total rows could
not be told apart), an output column mixing a totalled key with another column, a HAVING that
drops single rows, a LIMIT, an ORDER BY on something that is not an output column.

>>> from trust.sql.parse import parse
>>> print(expand(parse("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region)")).tree.sql("duckdb"))
SELECT region, COUNT(*) AS n FROM dwp.uc_claims GROUP BY region UNION ALL SELECT NULL AS region, COUNT(*) AS n FROM dwp.uc_claims
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import cast

from sqlglot import exp

from trust.errors import NotAllowed
from trust.sql.parse import DIALECT, Parsed
from trust.sql.refusals import reject

MAX_SETS = 16
CONSTRUCTS = (exp.Rollup, exp.Cube, exp.GroupingSets)
FUNCTIONS = (exp.Grouping, exp.GroupingId)
RULE = "group_by_form"
SETS_RULE = "too_many_grouping_sets"
HAVING_RULE = "having_with_totals"
LIMIT_RULE = "limit_with_totals"
_PLACES = {"expressions", "having", "order"}  # where GROUPING() may stand in its SELECT


@dataclass(frozen=True)
class _Plan:
    select: exp.Select
    keys: _Keys  # every key once, in order of first appearance
    sets: tuple[frozenset[int], ...]  # per branch, the keys it groups by (indexes into keys), finest first


def _name(node: exp.Expr) -> str:
    if isinstance(node, exp.GroupingSets):
        return "GROUPING SETS"
    if isinstance(node, FUNCTIONS):
        return "GROUPING_ID()" if isinstance(node, exp.GroupingId) else "GROUPING()"
    return node.key.upper()


def _refuse(node: exp.Expr, message: str, rule: str = RULE, construct: str | None = None) -> NotAllowed:
    err = reject(node, message, rule, construct or _name(node))
    if err.position is None:  # an empty set, (), carries no position of its own: point at its SELECT
        select = node.find_ancestor(exp.Select)
        if select is not None and select is not node:
            err = reject(select, message, rule, construct or _name(node))
    return err


# -- which SELECTs may carry grouping sets: the result's own ---------------------------------------


def _branches(tree: exp.Expr) -> list[exp.Expr] | None:
    """The branches of a UNION ALL chain at the top of the query (the query itself if it is a
    SELECT); None if a UNION there removes duplicates (expanding under it would change the result)."""
    if isinstance(tree, exp.Select):
        return [tree]
    if type(tree) is exp.Union:
        if tree.args.get("distinct"):
            return None
        left, right = _branches(tree.this), _branches(tree.expression)
        return None if left is None or right is None else left + right
    return [tree]


def _owner(node: exp.Expr) -> exp.Select:
    """The output SELECT that ``node`` belongs to, or a refusal saying why there is none."""
    select = node.find_ancestor(exp.Select)
    branches = _branches(node.root())
    if select is not None and branches is not None and any(b is select for b in branches):
        return select
    if select is None:
        where = "the ORDER BY of a UNION (name it in the SELECT list with an alias and order by that)"
    elif branches is None:
        where = "a branch of a UNION that removes duplicates (use UNION ALL)"
    else:
        where = (
            "a subquery or CTE: the totals it makes must be the result's own rows so disclosure control can "
            "protect them (move the GROUP BY to the outermost query)"
        )
    raise _refuse(
        node, f"{_name(node)} is accepted only in the outermost query or a branch of a UNION ALL there, not in {where}"
    )


# -- the grouping sets a GROUP BY asks for ---------------------------------------------------------


def _items(node: exp.Expr) -> list[exp.Expr]:
    """One element of ROLLUP/CUBE or one grouping set: a key, or a (composite) list of keys."""
    if isinstance(node, exp.Tuple):
        return list(node.expressions)
    if isinstance(node, exp.Paren):
        return [node.this]
    return [node]


def _count(node: exp.Expr) -> int:
    if isinstance(node, exp.Rollup):
        return len(node.expressions) + 1
    if isinstance(node, exp.Cube):
        return 2 ** len(node.expressions)
    if isinstance(node, exp.GroupingSets):
        return sum(_count(e) for e in node.expressions)
    return 1


def _sets(node: exp.Expr) -> list[list[exp.Expr]]:
    """The grouping sets one GROUP BY element stands for, in DuckDB's order (finest first)."""
    if isinstance(node, exp.Rollup):
        parts = [_items(e) for e in node.expressions]
        return [[k for part in parts[:n] for k in part] for n in range(len(parts), -1, -1)]
    if isinstance(node, exp.Cube):
        parts = [_items(e) for e in node.expressions]
        return [
            [k for i in chosen for k in parts[i]]
            for size in range(len(parts), -1, -1)
            for chosen in itertools.combinations(range(len(parts)), size)
        ]
    if isinstance(node, exp.GroupingSets):
        out: list[list[exp.Expr]] = []
        for item in node.expressions:
            out.extend(_sets(item) if isinstance(item, CONSTRUCTS) else [_items(item)])
        return out
    return [_items(node)]


def _canonical(node: exp.Expr) -> str:
    """``node`` as text with names in lower case and column qualifiers dropped, for matching."""
    copy = node.copy()
    for ident in copy.find_all(exp.Identifier):
        ident.set("this", ident.name.lower())
        ident.set("quoted", False)
    for col in copy.find_all(exp.Column):
        col.set("table", None)
    return copy.sql(DIALECT)


def _qualifiers_agree(a: exp.Expr, b: exp.Expr) -> bool:
    return all(
        not x.table or not y.table or x.table.lower() == y.table.lower()
        for x, y in zip(a.find_all(exp.Column), b.find_all(exp.Column))
    )


def _same(a: exp.Expr, b: exp.Expr) -> bool:
    """The same key: equal up to case and column qualifiers, where both sides give one, agreeing."""
    return _canonical(a) == _canonical(b) and _qualifiers_agree(a, b)


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


class _Keys:
    """The keys of one SELECT's GROUP BY, each once."""

    def __init__(self, select: exp.Select) -> None:
        self.select = select
        self.keys: list[exp.Expr] = []
        self.canonical: list[str] = []

    def add(self, written: exp.Expr) -> int:
        key = self._meaning(_unparen(written))
        found = self.find(key)
        if found is not None:
            return found
        self.keys.append(key)
        self.canonical.append(_canonical(key))
        return len(self.keys) - 1

    def find(self, node: exp.Expr) -> int | None:
        if not isinstance(node, exp.Column) and node.find(exp.Column) is None:
            return None
        canonical = _canonical(node)
        for i, key in enumerate(self.keys):
            if canonical == self.canonical[i] and _qualifiers_agree(node, key):
                return i
        return None

    def _meaning(self, key: exp.Expr) -> exp.Expr:
        """A position (``ROLLUP(1)``) is the projection there. A name that is also an output alias is
        the column (as DuckDB reads it) when that output is made from the column, as in ``CASE WHEN
        GROUPING(region) = 1 THEN 'All' ELSE region END AS region``; otherwise it could be either, and
        is refused."""
        projections = self.select.expressions
        if isinstance(key, exp.Literal) and key.is_int:
            n = int(key.name)
            if not 1 <= n <= len(projections):
                raise _refuse(
                    key,
                    f"GROUP BY position {n} is not an output column (there are {len(projections)})",
                    construct=key.sql(DIALECT),
                )
            key = projections[n - 1].unalias().copy()
        if key.find(exp.AggFunc) is not None:
            raise _refuse(
                key,
                f"The grouping key {key.sql(DIALECT)} is an aggregate; group by columns or expressions of columns",
                construct=key.sql(DIALECT),
            )
        if key.find(exp.Column) is None:
            raise _refuse(
                key,
                f"The grouping key {key.sql(DIALECT)} is a constant; group by columns or expressions of columns",
                construct=key.sql(DIALECT),
            )
        if isinstance(key, exp.Column) and not key.table:
            for proj in projections:
                if (
                    isinstance(proj, exp.Alias)
                    and proj.alias.lower() == key.name.lower()
                    and not any(c.name.lower() == key.name.lower() for c in proj.this.find_all(exp.Column))
                ):
                    raise _refuse(
                        key,
                        f"The grouping key {key.name} is also the alias of "
                        f"{proj.this.sql(DIALECT)}; with ROLLUP, CUBE or GROUPING SETS write the "
                        "expression itself in the GROUP BY, or give the output another alias",
                        construct=key.name,
                    )
        return key


# -- one branch per grouping set -------------------------------------------------------------------


def _carry(old: exp.Expr, new: exp.Expr) -> exp.Expr:
    """``new`` in place of ``old``, keeping where ``old`` was in the analyst's text."""
    for n in old.walk():
        if n._meta and "line" in n.meta:
            new.meta.update({k: n.meta[k] for k in ("line", "col", "start", "end") if k in n.meta})
            break
    return new


@dataclass
class _Branch:
    keys: _Keys
    grouped: frozenset[int]
    nulled: bool = False

    def value(self, node: exp.Expr) -> exp.Expr:
        """``node`` (a copy, changed in place where it can be) as this branch computes it."""
        if isinstance(node, FUNCTIONS):
            return _carry(node, exp.Literal.number(self.bits(node)))
        if isinstance(node, exp.AggFunc):
            inner = next((f for f in node.find_all(*FUNCTIONS) if f is not node), None)
            if inner is not None:
                raise _refuse(inner, "GROUPING() inside an aggregate is not accepted; use it on its own")
            return node  # an aggregate's argument is row-level: every row's value, whatever the set
        index = self.keys.find(node)
        if index is not None:
            if index in self.grouped:
                return node
            self.nulled = True
            return _carry(node, exp.Null())
        for child in list(node.iter_expressions()):
            new = self.value(child)
            if new is not child:
                child.replace(new)
        return node

    def bits(self, node: exp.Expr) -> int:
        args = node.expressions
        if not args:
            raise _refuse(node, f"{_name(node)} needs the group keys it reports on, e.g. GROUPING(region)")
        out = 0
        for arg in args:
            index = self.keys.find(_unparen(arg))
            if index is None:
                raise _refuse(
                    arg,
                    f"{arg.sql(DIALECT)} in {_name(node)} is not a key of this GROUP BY; name one of its keys",
                    construct=_name(node),
                )
            out = out * 2 + (index not in self.grouped)
        return out


def _shown(proj: exp.Expr, keys: _Keys) -> set[int]:
    """The keys whose values reach ``proj`` (outside aggregates and GROUPING())."""
    out: set[int] = set()
    stack = [proj]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.AggFunc):
            continue
        index = keys.find(node)
        if index is not None:
            out.add(index)
            continue
        stack.extend(node.iter_expressions())
    return out


def _aggregate(proj: exp.Expr) -> bool:
    return any(not isinstance(a, FUNCTIONS) for a in proj.find_all(exp.AggFunc))


def _plan(select: exp.Select) -> _Plan:
    """The keys and grouping sets of an output SELECT, or a refusal if it cannot be expanded."""
    group = select.args.get("group")
    if group is None or group.args.get("all") or not group.expressions:
        function: exp.Expr = next(select.find_all(*FUNCTIONS), select)
        raise _refuse(function, f"{_name(function)} needs a GROUP BY that names its keys (not GROUP BY ALL)")
    count = math.prod(_count(e) for e in group.expressions)
    if count > MAX_SETS:
        construct = next(e for e in group.expressions if isinstance(e, CONSTRUCTS))
        raise _refuse(
            construct,
            f"This GROUP BY asks for {count} grouping sets; the limit is {MAX_SETS}, since each set "
            "reads the data once more. List only the totals you need with GROUPING SETS ((a, b), (a), ()), "
            "or split the query",
            SETS_RULE,
        )
    keys = _Keys(select)
    sets: list[frozenset[int]] = []
    for combination in itertools.product(*(_sets(e) for e in group.expressions)):
        chosen = frozenset(keys.add(k) for part in combination for k in part)
        if chosen not in sets:  # a set asked for twice is computed once
            sets.append(chosen)
    sets.sort(key=len, reverse=True)  # stable: finest first, then as written
    if len(sets) > 1:
        shown = set().union(*(_shown(p, keys) for p in select.expressions if not _aggregate(p)))
        missing = [i for i in range(len(keys.keys)) if i not in shown]
        if missing:
            key = keys.keys[missing[0]]
            raise _refuse(
                key,
                f"The grouping key {key.sql(DIALECT)} is not an output column: with ROLLUP, CUBE or "
                "GROUPING SETS each key must be shown in its own column, so total rows can be told apart "
                "and protected. Add it to the SELECT list",
                construct=key.sql(DIALECT),
            )
    plan = _Plan(select, keys, tuple(sets))
    for grouped in sets:
        _projections(plan, grouped)
    if len(sets) > 1:
        _check_whole(plan)
    return plan


def _check_whole(plan: _Plan) -> None:
    """Every total comes back with all the rows it adds up, or disclosure control could not see that a
    hidden part is recoverable by subtraction: HAVING may keep or drop whole grouping sets (through
    GROUPING()) but not single rows, and no LIMIT cuts the result."""
    select = plan.select
    having = select.args.get("having")
    if having is not None:
        for grouped in plan.sets:
            kept = _Branch(plan.keys, grouped).value(having.this.copy())
            if kept.find(exp.Column, exp.AggFunc) is not None:
                raise _refuse(
                    having,
                    "HAVING with ROLLUP, CUBE or GROUPING SETS would drop some of the rows a total "
                    "adds up, and the total would give them back by subtraction. Filter rows with WHERE, "
                    "leave small cells to disclosure control, or use HAVING only on GROUPING() to keep or "
                    "drop whole levels of totals",
                    HAVING_RULE,
                    "HAVING",
                )
    limit = select.args.get("limit") or select.root().args.get("limit")
    if limit is not None:
        raise _refuse(
            limit,
            "LIMIT with ROLLUP, CUBE or GROUPING SETS could cut some of the rows a total adds up, and "
            "the total would give them back by subtraction. Remove the LIMIT (sort and cut the protected "
            "result yourself)",
            LIMIT_RULE,
            "LIMIT",
        )


def _projections(plan: _Plan, grouped: frozenset[int]) -> list[exp.Expr]:
    out = []
    for proj in plan.select.expressions:
        branch = _Branch(plan.keys, grouped)
        new = branch.value(proj.copy())
        if branch.nulled and not _aggregate(proj) and new.find(exp.Column) is not None:
            raise _refuse(
                proj,
                f"The output column {proj.sql(DIALECT)} combines a key that some grouping sets total "
                "over with other columns, so in those total rows it would be neither a value nor a total "
                "label. Give each group key its own output column",
                construct=proj.sql(DIALECT),
            )
        if new is not proj and isinstance(proj, exp.Column) and not isinstance(new, exp.Column):
            new = exp.alias_(new, proj.this.copy(), copy=False)  # the column keeps its name
        out.append(new)
    return out


def _branch(plan: _Plan, grouped: frozenset[int]) -> exp.Select:
    """The SELECT computing one grouping set (without WITH, ORDER BY and LIMIT, which go on the union)."""
    select = plan.select.copy()
    for clause in ("with_", "order", "limit"):
        select.set(clause, None)
    select.set("expressions", _projections(plan, grouped))
    group_keys = [plan.keys.keys[i].copy() for i in sorted(grouped)]
    select.set("group", exp.Group(expressions=group_keys) if group_keys else None)
    having = plan.select.args.get("having")
    if having is not None:
        select.set("having", exp.Having(this=_Branch(plan.keys, grouped).value(having.this.copy())))
    return select


def _order(select: exp.Select, plan: _Plan) -> exp.Order | None:
    """The ORDER BY for the expanded query. Over several sets it goes on the union, so each term
    must be an output column, by name or position (a term written as a projection's expression is
    turned into a reference to it)."""
    order = select.args.get("order")
    if order is None:
        return None
    order = order.copy()
    if len(plan.sets) == 1 and order.find(*FUNCTIONS) is None:
        return order
    projections = select.expressions
    names = {p.alias_or_name.lower() for p in projections if p.alias_or_name}
    for ordered in order.expressions:
        term = ordered.this
        if (isinstance(term, exp.Literal) and term.is_int) or (
            isinstance(term, exp.Column) and not term.table and term.name.lower() in names
        ):
            continue
        match = next((j for j, p in enumerate(projections) if _same(_unparen(term), p.unalias())), None)
        if match is None:
            raise _refuse(
                term,
                "With ROLLUP, CUBE, GROUPING SETS or GROUPING(), ORDER BY can name only output "
                f"columns (by alias or position); add {term.sql(DIALECT)} to the SELECT list with an alias "
                "and order by that",
                construct=f"ORDER BY {term.sql(DIALECT)}",
            )
        proj = projections[match]
        name = (
            proj.args.get("alias")
            if isinstance(proj, exp.Alias)
            else proj.this
            if isinstance(proj, exp.Column)
            else None
        )
        ordered.set(
            "this", _carry(term, exp.column(name.copy()) if name is not None else exp.Literal.number(match + 1))
        )
    return order


def _expand_select(select: exp.Select, outermost: bool) -> list[exp.Select]:
    """One SELECT per grouping set; a single one keeps the query's WITH, ORDER BY and LIMIT (with
    several, the caller puts them on the union)."""
    plan = _plan(select)
    if not outermost and len(plan.sets) > 1 and select.args.get("with_") is not None:
        raise _refuse(
            select,
            "ROLLUP, CUBE or GROUPING SETS in a UNION branch that has its own WITH cannot be "
            "expanded; put the WITH at the start of the whole query",
        )
    branches = [_branch(plan, grouped) for grouped in plan.sets]
    if len(branches) == 1:
        branches[0].set("with_", select.args.get("with_") and select.args["with_"].copy())
        branches[0].set("order", _order(select, plan))
        branches[0].set("limit", select.args.get("limit") and select.args["limit"].copy())
    return branches


def _needs(select: exp.Expr) -> bool:
    """Whether an output SELECT has grouping sets or GROUPING() of its own to expand."""
    if not isinstance(select, exp.Select):
        return False
    group = select.args.get("group")
    if group is not None and any(isinstance(e, CONSTRUCTS) for e in group.expressions):
        return True
    return any(f.find_ancestor(exp.Select) is select for f in select.find_all(*FUNCTIONS))


def check(node: exp.Expr) -> None:
    """Refuse ``node`` (a GROUP BY, a grouping construct or GROUPING()) unless ``expand`` can rewrite it.

    >>> from trust.sql.parse import parse
    >>> check(parse("SELECT n FROM (SELECT region, count(*) AS n FROM t GROUP BY CUBE (region)) AS s").tree.find(exp.Cube))
    Traceback (most recent call last):
    ...
    trust.errors.NotAllowed: CUBE is accepted only in the outermost query or a branch of a UNION ALL there, not in a subquery or CTE: the totals it makes must be the result's own rows so disclosure control can protect them (move the GROUP BY to the outermost query) at line 1, column 67.
    """
    if isinstance(node, exp.Group):
        for arg, what in (("rollup", "WITH ROLLUP"), ("cube", "WITH CUBE")):
            if node.args.get(arg):
                raise _refuse(
                    node,
                    f"GROUP BY ... {what} is MySQL's form, which DuckDB does not read; write "
                    f"GROUP BY {what.split()[1]} (a, b)",
                    construct=what,
                )
        if node.args.get("grouping_sets"):
            raise _refuse(
                node,
                "GROUP BY keys followed by GROUPING SETS (Hive's form) is not accepted; write "
                "GROUP BY GROUPING SETS ((a, b), (a), ())",
                construct="GROUPING SETS",
            )
        if node.args.get("totals"):
            raise _refuse(
                node,
                "GROUP BY ... WITH TOTALS is not accepted; write GROUP BY ROLLUP (a, b) for totals",
                construct="WITH TOTALS",
            )
        construct = next((e for e in node.expressions if isinstance(e, CONSTRUCTS)), None)
        if construct is None:
            return
        select = _owner(construct)
    elif isinstance(node, CONSTRUCTS):
        parent = node.parent
        if not (
            isinstance(parent, exp.Group) and node.arg_key == "expressions" or isinstance(parent, exp.GroupingSets)
        ):
            raise _refuse(
                node,
                f"{_name(node)} is accepted only directly in GROUP BY or GROUPING SETS; write "
                "GROUP BY ROLLUP (a, b), CUBE (a, b) or GROUPING SETS ((a, b), (a), ())",
            )
        select = _owner(node)
    elif isinstance(node, FUNCTIONS):
        select = _owner(node)
        child: exp.Expr = node
        while child.parent is not None and child.parent is not select:
            child = child.parent
            if isinstance(child, exp.AggFunc) and not isinstance(child, FUNCTIONS):
                raise _refuse(node, f"{_name(node)} inside an aggregate is not accepted; use it on its own")
        if child.arg_key not in _PLACES:
            raise _refuse(
                node,
                f"{_name(node)} is accepted in the SELECT list, HAVING and ORDER BY, not in "
                f"{(child.arg_key or '').rstrip('_').upper()}",
            )
    else:
        return
    _order(select, _plan(select))


def expand(parsed: Parsed) -> Parsed:
    """The query with every grouping set of its result spelled out as a UNION ALL branch.

    A query without ROLLUP, CUBE, GROUPING SETS or GROUPING() comes back as it was.
    """
    tree = parsed.tree
    for node in list(tree.find_all(exp.Group, *CONSTRUCTS, *FUNCTIONS)):
        check(node)
    branches = _branches(tree)
    if branches is None or not any(_needs(b) for b in branches):
        return parsed
    outermost = isinstance(tree, exp.Select)
    selects = [
        s
        for b in branches
        for s in (_expand_select(cast(exp.Select, b), outermost) if _needs(b) else [cast(exp.Select, b.copy())])
    ]
    if len(selects) == 1:
        return Parsed(sql=parsed.sql, tree=selects[0])
    union: exp.Query = selects[0]
    for select in selects[1:]:
        union = exp.Union(this=union, expression=select, distinct=False)
    # WITH, ORDER BY and LIMIT belong to the whole result: the expanded SELECT's, or the analyst's union's
    order = _order(tree, _plan(tree)) if isinstance(tree, exp.Select) else tree.args.get("order")
    for clause, value in (("with_", tree.args.get("with_")), ("order", order), ("limit", tree.args.get("limit"))):
        union.set(clause, value.copy() if value is not None else None)
    return Parsed(sql=parsed.sql, tree=union)
