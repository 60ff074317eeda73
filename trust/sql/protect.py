"""Structural protections that hold whatever the policy says (DESIGN section 4).

- A direct identifier appears nowhere: not in output, filter, join, group key or function.
- A linkage key appears only as one side of a join equality or as count(DISTINCT key), and
  every join has such an equality (joins on anything else multiply rows without meaning).
- A measure's value reaches the output, a group key or ORDER BY only through an aggregate.
- The top-level result is aggregated: each output column a group key, an aggregate or a
  constant; aggregation happens once, in the outermost query (or each branch of a UNION).
- An aggregate's argument is plain arithmetic on measures, with at most one CASE: nothing
  (floor(), a predicate, a nested CASE) can single out a few rows inside a large group
  without the contributor partition (``partition.py``) seeing it.
- ORDER BY sorts on group keys only: sorting on an aggregate would place a suppressed cell
  among visible ones and so reveal roughly what it holds.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.expressions.datatypes import DType
from sqlglot.optimizer.scope import Scope

from trust.catalog.model import Role
from trust.errors import NotAllowed
from trust.sql.describe import AGGREGATE_NAMES, Description, Use
from trust.sql.partition import branch_conditions, branch_values, branching
from trust.sql.refusals import position
from trust.sql.resolve import EMPTY, Lineage, bare_column, is_plain

VALUE_AGGREGATES = (
    exp.Sum,
    exp.Avg,
    exp.Min,
    exp.Max,
    exp.Median,
    exp.PercentileCont,
    exp.PercentileDisc,
    exp.Quantile,
)


def _reject(
    use: Use | None, message: str, rule: str, node: exp.Expr | None = None, construct: str | None = None
) -> NotAllowed:
    where_node = node if node is not None else use.column if use else None
    pos = position(where_node) if where_node is not None else None
    where = f" (line {pos[0]}, column {pos[1]})" if pos else ""
    if construct is None:
        construct = use.column.sql() if use else where_node.sql("duckdb")[:80] if where_node is not None else None
    return NotAllowed(message.rstrip(".") + where + ".", rule=rule, position=pos, construct=construct)


def _check_use(use: Use, lineage_of: Callable[[exp.Expr], Lineage]) -> None:
    for ref in sorted(use.refs):
        if ref.role is Role.DIRECT_IDENTIFIER:
            raise _reject(
                use,
                f"{ref.qualified} is a direct identifier and cannot be used anywhere in a query. "
                "Remove it; link datasets on their linkage key instead",
                "direct_identifier",
            )
    if use.pass_through:
        return
    if use.join_key:
        parent = use.column.parent
        assert parent is not None  # a join key is one side of an equality
        other_node = parent.expression if parent.this is use.column else parent.this
        other = lineage_of(other_node).all
        mine = {r.column for r in use.refs if r.role is Role.LINKAGE_KEY}
        theirs = {r.column for r in other if r.role is Role.LINKAGE_KEY}
        if (mine or theirs) and (mine != theirs or len(mine) != 1 or len(other) != len(theirs)):
            raise _reject(
                use,
                "A linkage key can only be joined to the same linkage key in another dataset "
                f"(e.g. person_id = person_id); this joins {sorted(r.qualified for r in use.refs)} to "
                f"{sorted(r.qualified for r in other)}",
                "linkage_key_join",
            )
    for ref in sorted(use.refs):
        if ref.role is Role.LINKAGE_KEY and not (use.join_key or use.distinct_arg):
            raise _reject(
                use,
                f"{ref.qualified} is a linkage key: use it only to join datasets "
                "(ON a.key = b.key) or as count(DISTINCT key)",
                "linkage_key_use",
            )
    if use.aggregate is None and use.context in {"output", "group_by", "order"}:
        for ref in sorted(use.value_refs):
            if ref.role is Role.MEASURE:
                raise _reject(
                    use,
                    f"{ref.qualified} is a measure: it can be aggregated (sum, avg, count) or "
                    "compared in a filter, but its values cannot be output, grouped or sorted on; band it "
                    "with CASE WHEN ... THEN 'label' to group",
                    "measure_not_aggregated",
                )


def _check_output(select: exp.Select) -> None:
    if isinstance(select.args.get("distinct"), exp.Distinct):
        raise _reject(
            None,
            "SELECT DISTINCT is not accepted on the result: GROUP BY gives one row per group",
            "row_level_output",
            select,
            "SELECT DISTINCT",
        )
    if select.find(exp.AggFunc) is None or not any(p.find(exp.AggFunc) for p in select.expressions):
        raise _reject(
            None,
            "The result must be aggregated: add an aggregate such as count(*) and GROUP BY "
            "the dimensions you want (row-level results never leave the trust)",
            "row_level_output",
            select,
            "SELECT",
        )


def _check_subquery(scope: Scope) -> None:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    agg = next((p.find(exp.AggFunc) for p in select.expressions if p.find(exp.AggFunc)), None)
    if agg is not None or select.args.get("group") or select.args.get("having"):
        node = agg if agg is not None else select.args.get("group") or select.args.get("having")
        raise _reject(
            None,
            "Aggregates and GROUP BY are accepted only in the outermost query (or each branch of a "
            "UNION there): disclosure control counts the people behind each cell and cannot through an "
            "aggregated subquery. Aggregate once, at the end",
            "aggregate_in_subquery",
            node,
        )


def _order_refs_aggregate(ordered: exp.Expr, outputs: tuple[Scope, ...]) -> bool:
    term = ordered.this if isinstance(ordered, exp.Ordered) else ordered
    if term.find(exp.AggFunc) is not None:
        return True
    names = {c.name for c in term.find_all(exp.Column) if not c.table}
    for scope in outputs:
        for proj in scope.expression.expressions:
            if proj.alias_or_name in names and proj.find(exp.AggFunc) is not None:
                return True
    return False


def _check_order(description: Description) -> None:
    root = description.resolved.tree
    order = root.args.get("order")
    if order is None:
        return
    for ordered in order.expressions:
        if _order_refs_aggregate(ordered, description.output_scopes):
            raise _reject(
                None,
                "ORDER BY an aggregate is not accepted: the position of a suppressed cell among "
                "visible ones would reveal roughly what it holds. Order by group keys, or sort the "
                "protected result yourself",
                "order_by_aggregate",
                ordered,
            )


def _first_unplain(value: exp.Expr) -> exp.Expr:
    """The outermost node of ``value`` that is not plain arithmetic itself (its children may be)."""
    for n in value.walk():
        if not is_plain(_shell(n)):
            return n
    return value


def _shell(node: exp.Expr) -> exp.Expr:
    """``node`` with its children replaced by literals, to judge the node alone."""
    shell = node.copy()
    for child in list(shell.iter_expressions()):
        if not isinstance(child, (exp.Identifier, exp.DataType)):
            child.replace(exp.Literal.number(0))
    return shell


def _check_aggregate(agg: exp.AggFunc, lineage_of: Callable[[exp.Expr], Lineage], in_having: bool) -> None:
    name = AGGREGATE_NAMES.get(type(agg), agg.key)
    arg = agg.this
    if isinstance(agg, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
        return
    if isinstance(arg, exp.Distinct):
        inner = arg.expressions
        if not isinstance(agg, exp.Count) or len(inner) != 1 or not isinstance(inner[0], exp.Column):
            raise _reject(
                None,
                "DISTINCT is accepted only as count(DISTINCT column), with one plain column",
                "distinct_argument",
                agg,
            )
        if lineage_of(inner[0]).shaped:
            raise _reject(
                None,
                f"count(DISTINCT {inner[0].name}) counts the values of a column computed with CASE "
                "or a function, which can reveal whether a single person has some value; count a "
                "catalogue column",
                "aggregate_argument",
                agg,
            )
        return
    if isinstance(agg, (exp.PercentileCont, exp.PercentileDisc, exp.Quantile)):
        fraction = agg.args.get("expression") or agg.args.get("quantile")
        if not isinstance(fraction, exp.Literal) or fraction.is_string:
            raise _reject(None, f"{name}() takes a plain number as its fraction", "aggregate_argument", agg)
    found = branching(arg)
    if found and in_having:
        raise _reject(
            None,
            "A CASE inside an aggregate in HAVING is not accepted: whether a group is kept would "
            "depend on a few rows inside it. Filter with WHERE, or output the conditional aggregate "
            "as a column",
            "aggregate_argument",
            found[0],
        )
    if len(found) > 1:
        raise _reject(
            None,
            f"Only one CASE (or IF) is accepted inside {name}(): several could single out a "
            "few rows of a group. Split it into several aggregates",
            "aggregate_argument",
            found[1],
        )
    values = [arg]
    if found:
        branch = found[0]
        values = [v for v in branch_values(branch) if v is not None]
        outside = arg.copy() if arg is not branch else exp.Literal.number(0)
        if arg is not branch:
            for n in outside.walk():
                if isinstance(n, (exp.Case, exp.If)) and not isinstance(n.parent, exp.Case):
                    n.replace(exp.Literal.number(0))
                    break
        values.append(outside)
        for cond in branch_conditions(branch):
            if cond.find(exp.AggFunc) is not None:
                raise _reject(None, "An aggregate inside another aggregate is not accepted", "aggregate_argument", agg)
    for value in values:
        if not is_plain(value):
            bad = _first_unplain(value)
            raise _reject(
                None,
                f"Inside {name}() only measures added or subtracted, multiplied or divided by a "
                "number, or divided by another measure, are accepted (one CASE may choose between such "
                f"values); {bad.sql('duckdb')[:60]} could weight a few rows of a large group up and the "
                "rest down. Band values with CASE in GROUP BY instead",
                "aggregate_argument",
                bad,
            )
    for value in values:
        for div in value.find_all(exp.Div):
            denominator = bare_column(div.expression)
            if denominator is not None and lineage_of(denominator).derived:
                raise _reject(
                    None,
                    f"Inside {name}() a division is accepted by a number or by a catalogue column; "
                    f"{denominator.name} is computed in a subquery",
                    "aggregate_argument",
                    div,
                )
    conditions = {id(c) for b in found for c in _condition_columns(b)}
    for col in arg.find_all(exp.Column):
        if id(col) in conditions:
            continue
        lin = lineage_of(col)
        if lin.shaped:
            raise _reject(
                None,
                f"{name}() is over {col.name}, which a subquery computed with CASE or a function; "
                "write the CASE inside the aggregate in the outermost query, so disclosure control can "
                "count the people it picks out",
                "aggregate_argument",
                col,
            )
        if isinstance(agg, VALUE_AGGREGATES):
            for ref in sorted(lin.values):
                if ref.role is not Role.MEASURE:
                    raise _reject(
                        None,
                        f"{name}() is accepted over measures only; {ref.qualified} is a "
                        f"{ref.role.value}. Count it with count(...), or group by it",
                        "aggregate_argument",
                        col,
                    )


def _condition_columns(branch: exp.Expr) -> list[exp.Column]:
    out: list[exp.Column] = []
    if isinstance(branch, exp.Case):
        if branch.args.get("this") is not None:
            out.extend(branch.this.find_all(exp.Column))
        for i in branch.args.get("ifs") or []:
            out.extend(i.this.find_all(exp.Column))
    else:
        out.extend(branch.this.find_all(exp.Column))
    return out


def _check_joins(description: Description, lineage_of: Callable[[exp.Expr], Lineage]) -> None:
    for join in description.resolved.tree.find_all(exp.Join):
        on = join.args.get("on")
        conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on] if on is not None else []
        for c in conjuncts:
            if isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Column):
                left = {r.column for r in lineage_of(c.this).all if r.role is Role.LINKAGE_KEY}
                right = {r.column for r in lineage_of(c.expression).all if r.role is Role.LINKAGE_KEY}
                if left and left == right:
                    break
        else:
            raise _reject(
                None,
                "Every join needs an equality between linkage keys (ON a.person_id = b.person_id "
                "or a.employer_id = b.employer_id); joins on other columns multiply rows without "
                "linking the same person or business",
                "join_without_key",
                join,
            )


_TEXT = exp.DataType.TEXT_TYPES
_TEMPORAL = exp.DataType.TEMPORAL_TYPES
_UNKNOWN = {exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Nullif)
_NUMERIC_OPERATIONS = (
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.IntDiv,
    exp.Mod,
    exp.Neg,
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
)


def _type(node: exp.Expr) -> DType | None:
    t = node.type
    return None if t is None or t.this in _UNKNOWN else t.this


def _implicit_cast(node: exp.Expr, text_side: exp.Expr, other: exp.Expr | None) -> NotAllowed:
    target = (
        other.type.sql("duckdb")
        if other is not None and other.type is not None and _type(other) is not None
        else "BOOLEAN"
    )
    if other is not None and _type(other) in _TEXT:
        target = "DOUBLE"
    return _reject(
        None,
        f"{text_side.sql('duckdb')[:60]} is text and is used as {target}: DuckDB would convert each "
        "row's value and fail on some, and whether a query fails must not depend on the data. Compare "
        f"text with text, or convert explicitly with TRY_CAST(... AS {target})",
        "implicit_cast",
        node,
    )


def _check_types(tree: exp.Expr) -> None:
    """Refuse what would make an engine error depend on the data: implicit text conversions and date
    arithmetic that can run out of range. (Explicit casts become TRY_CAST and integer arithmetic runs
    in floating point when the SQL is generated; see rewrite.py.)"""
    for node in tree.walk():
        pairs: list[tuple[exp.Expr, exp.Expr]] = []
        if isinstance(node, _COMPARISONS):
            pairs = [(node.this, node.expression)]
        elif isinstance(node, exp.In):
            pairs = [(node.this, e) for e in node.expressions]
        elif isinstance(node, exp.Between):
            pairs = [(node.this, node.args["low"]), (node.this, node.args["high"])]
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                tx, ty = _type(x), _type(y)
                if tx in _TEXT and ty is not None and ty not in _TEXT and x.find(exp.Column) is not None:
                    raise _implicit_cast(node, x, y)
        conditions: list[exp.Expr] = []
        if isinstance(node, (exp.Where, exp.Having)):
            conditions = [node.this]
        elif isinstance(node, exp.Join) and node.args.get("on") is not None:
            conditions = [node.args["on"]]
        elif isinstance(node, exp.If):
            conditions = [node.this]
        elif isinstance(node, (exp.And, exp.Or)):
            conditions = [node.this, node.expression]
        elif isinstance(node, exp.Not):
            conditions = [node.this]
        for cond in conditions:
            if _type(cond) in _TEXT and cond.find(exp.Column) is not None:
                raise _implicit_cast(node, cond, None)
        if isinstance(node, _NUMERIC_OPERATIONS):
            for operand in (node.args.get("this"), node.args.get("expression")):
                if operand is not None and _type(operand) in _TEXT and operand.find(exp.Column) is not None:
                    raise _implicit_cast(node, operand, node)
        if isinstance(node, (exp.Add, exp.Sub)):
            kinds = [_type(node.this), _type(node.expression)]
            temporal = [k in _TEMPORAL for k in kinds]
            if any(temporal) and not (isinstance(node, exp.Sub) and all(temporal)):
                raise _reject(
                    None,
                    "Adding to or subtracting from a date is not accepted (it can run out of the "
                    "calendar's range and fail on some rows); compare dates directly, or subtract one "
                    "date from another to get days",
                    "date_arithmetic",
                    node,
                )


def check_structure(description: Description) -> None:
    """Raise ``NotAllowed`` for the first use that breaks a structural protection."""
    lineage = description.resolved.lineage

    def lineage_of(node: exp.Expr) -> Lineage:
        return lineage.get(id(node), EMPTY)

    for use in description.uses:
        _check_use(use, lineage_of)
    output_ids = {id(s) for s in description.output_scopes}
    for scope in description.resolved.scopes:
        if id(scope) not in output_ids:
            _check_subquery(scope)
    for scope in description.output_scopes:
        assert isinstance(scope.expression, exp.Select)  # output scopes are the SELECTs of the result
        _check_output(scope.expression)
    if not description.shape.aggregated_output:
        raise _reject(
            None,
            "Every result column must be a GROUP BY key, an aggregate or a constant; "
            "add the column to GROUP BY or aggregate it",
            "row_level_output",
            description.output_scopes[0].expression,
            "SELECT",
        )
    for scope in description.output_scopes:
        select = scope.expression
        having = select.args.get("having")
        for proj in select.expressions:
            for agg in proj.find_all(exp.AggFunc):
                _check_aggregate(agg, lineage_of, in_having=False)
        if having is not None:
            for agg in having.find_all(exp.AggFunc):
                _check_aggregate(agg, lineage_of, in_having=True)
    _check_order(description)
    _check_joins(description, lineage_of)
    _check_types(description.resolved.tree)
