"""Stage 4: how each column is used, which aggregates and joins there are: the policy's view.

Every column reference gets a ``Use``: where it sits (output, group key, filter, join, order,
or a derived table's projection), inside which aggregate, and whether its value flows into the
result (``region = 'X'`` does not; ``upper(region)`` does). Structural protections and the
policy input are both built from these.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from trust.catalog.model import Catalog
from trust.sql.resolve import ColumnRef, Resolved, flows
from trust.sql.shape import AggregateUse, ColumnUse, JoinUse, OutputColumn, QueryShape, TableUse

_CONTEXT = {
    "where": "filter",
    "having": "filter",
    "group": "group_by",
    "order": "order",
    "joins": "join",
    "expressions": "projection",
}
AGGREGATE_NAMES = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
    exp.Median: "median",
    exp.PercentileCont: "quantile",
    exp.PercentileDisc: "quantile",
    exp.Quantile: "quantile",
}


@dataclass(frozen=True)
class Use:
    column: exp.Column
    refs: frozenset[ColumnRef]  # every catalogue column the reference is made from
    value_refs: frozenset[ColumnRef]  # those whose values reach where it is used
    context: str  # output, group_by, filter, join, order, projection
    aggregate: str | None  # the aggregate it is inside, if any
    distinct_arg: bool  # exactly the argument of count(DISTINCT ...)
    flows: bool  # its value reaches the clause's result
    pass_through: bool  # a derived table's projection that is just this column
    join_key: bool  # one side of a column = column equality in an ON condition
    in_output_scope: bool


@dataclass(frozen=True)
class Description:
    resolved: Resolved
    uses: tuple[Use, ...]
    output_scopes: tuple[Scope, ...]
    shape: QueryShape


def output_scopes(root: Scope) -> tuple[Scope, ...]:
    """The SELECT scopes whose projections are the query's result (several under a UNION)."""
    if isinstance(root.expression, exp.Union):
        return tuple(s for branch in root.set_operation_scopes for s in output_scopes(branch))
    return (root,)


def aggregate_of(node: exp.Expr, stop: exp.Expr) -> exp.AggFunc | None:
    for anc in _ancestors(node, stop):
        if isinstance(anc, exp.AggFunc):
            return anc
    return None


def _ancestors(node: exp.Expr, stop: exp.Expr):
    parent = node.parent
    while parent is not None and parent is not stop:
        yield parent
        parent = parent.parent


def _clause(node: exp.Expr, select: exp.Expr) -> tuple[str, exp.Expr]:
    child = node
    while child.parent is not None and child.parent is not select:
        child = child.parent
    key = child.arg_key or ""
    return _CONTEXT.get(key, key), child


def _is_join_key(col: exp.Column, clause: exp.Expr) -> bool:
    parent = col.parent
    if not isinstance(parent, exp.EQ) or not all(isinstance(x, exp.Column) for x in (parent.this, parent.expression)):
        return False
    node: exp.Expr = parent
    while node.parent is not None and node.parent is not clause:
        if not isinstance(node.parent, exp.And):
            return False
        node = node.parent
    return node.arg_key == "on"


def _uses(resolved: Resolved, outputs: tuple[Scope, ...]) -> list[Use]:
    out_ids = {id(s) for s in outputs}
    uses = []
    for scope in resolved.scopes:
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        for col in scope.columns:
            lin = resolved.lineage[id(col)]
            context, clause = _clause(col, select)
            agg = aggregate_of(col, select)
            in_output = id(scope) in out_ids
            if context == "projection" and in_output:
                context = "output"
            value_flows = flows(col, clause)
            pass_through = (
                context == "projection"
                and not in_output
                and (clause is col or (isinstance(clause, exp.Alias) and clause.this is col))
            )
            distinct_arg = (
                isinstance(agg, exp.Count)
                and isinstance(col.parent, exp.Distinct)
                and col.parent.parent is agg
                and len(col.parent.expressions) == 1
            )
            uses.append(
                Use(
                    column=col,
                    refs=lin.all,
                    value_refs=lin.values if value_flows else frozenset(),
                    context=context,
                    aggregate=AGGREGATE_NAMES.get(type(agg)) if agg is not None else None,
                    distinct_arg=distinct_arg,
                    flows=value_flows,
                    pass_through=pass_through,
                    join_key=context == "join" and _is_join_key(col, clause),
                    in_output_scope=in_output,
                )
            )
    return uses


def _output_columns(resolved: Resolved, outputs: tuple[Scope, ...]) -> tuple[OutputColumn, ...]:
    first = outputs[0].expression
    cols = []
    for i, proj in enumerate(first.expressions):
        agg = next((a for a in proj.find_all(exp.AggFunc)), None)
        lineage: set[str] = set()
        for scope in outputs:
            p = scope.expression.expressions[i]
            for col in p.find_all(exp.Column):
                lineage |= {r.qualified for r in resolved.lineage[id(col)].all}
        cols.append(
            OutputColumn(
                name=proj.alias_or_name,
                kind="aggregate" if agg is not None else "group_key",
                function=AGGREGATE_NAMES.get(type(agg)) if agg is not None else None,
                lineage=tuple(sorted(lineage)),
            )
        )
    return tuple(cols)


def _aggregated(outputs: tuple[Scope, ...]) -> bool:
    """Every output column of every result branch is a group key, an aggregate or a constant."""
    for scope in outputs:
        select = scope.expression
        group = select.args.get("group")
        keys = {k.sql() for k in group.expressions} if group else set()
        has_agg = False
        for proj in select.expressions:
            if proj.find(exp.AggFunc) is not None:
                has_agg = True
                loose = [c for c in proj.find_all(exp.Column) if aggregate_of(c, proj) is None]
            elif proj.unalias().sql() in keys:
                loose = []
            else:
                loose = list(proj.find_all(exp.Column)) or list(proj.find_all(exp.Star))
            if any(c.sql() not in keys for c in loose):
                return False
        if not has_agg:
            return False
    return True


def _order_refs(resolved: Resolved, outputs: tuple[Scope, ...]) -> set[ColumnRef]:
    """Catalogue columns behind ORDER BY terms that name an output column (by alias or position)."""
    order = resolved.tree.args.get("order")
    if order is None:
        return set()
    names = {c.name for c in order.find_all(exp.Column) if not c.table}
    refs: set[ColumnRef] = set()
    for scope in outputs:
        for proj in scope.expression.expressions:
            if proj.alias_or_name in names:
                refs |= {
                    r
                    for c in proj.find_all(exp.Column)
                    if id(c) in resolved.lineage
                    for r in resolved.lineage[id(c)].all
                }
    return refs


def describe(resolved: Resolved, catalog: Catalog) -> Description:
    """The uses of every column and the query's shape for policy."""
    outputs = output_scopes(resolved.root)
    uses = _uses(resolved, outputs)
    by_ref: dict[ColumnRef, set[str]] = {}
    for u in uses:
        if u.context == "projection":
            continue  # a derived table's projection is described where the outer query uses it
        context = "aggregate" if u.aggregate else u.context
        for ref in u.refs:
            by_ref.setdefault(ref, set()).add(context)
    for ref in _order_refs(resolved, outputs):
        by_ref.setdefault(ref, set()).add("order")
    columns = tuple(
        ColumnUse(
            ref.dataset,
            ref.column,
            ref.role.value,
            tuple(sorted(ctx)),
            catalog.get(ref.dataset).column(ref.column).flags,
        )
        for ref, ctx in sorted(by_ref.items())
    )
    aggregates: list[AggregateUse] = []
    for scope in resolved.scopes:
        if not isinstance(scope.expression, exp.Select):
            continue
        for agg in scope.expression.find_all(exp.AggFunc):
            name = AGGREGATE_NAMES.get(type(agg), agg.key)
            distinct = isinstance(agg.this, exp.Distinct)
            refs = sorted(
                {
                    r
                    for c in agg.find_all(exp.Column)
                    if id(c) in resolved.lineage and flows(c, agg)
                    for r in resolved.lineage[id(c)].values
                }
            )
            if not refs:
                aggregates.append(AggregateUse(name, None, None, distinct))
            aggregates.extend(AggregateUse(name, r.dataset, r.column, distinct) for r in refs)
    joins = []
    for u in uses:
        if u.join_key and u.column.parent is not None and u.column.parent.this is u.column:
            other_column = u.column.parent.expression
            join = u.column.find_ancestor(exp.Join)
            kind = "left" if join is not None and join.side.upper() == "LEFT" else "inner"
            # "left" is the side already in FROM, "right" the joined table (the optional side of a LEFT JOIN)
            mine, theirs = u.refs, resolved.lineage[id(other_column)].all
            if join is not None and u.column.table == join.this.alias_or_name:
                mine, theirs = theirs, mine
            for left in sorted(mine):
                for right in sorted(theirs):
                    joins.append(JoinUse(left.qualified, right.qualified, kind))
    tables = tuple(
        TableUse(ds_id, catalog.get(ds_id).department, catalog.get(ds_id).flags) for ds_id in resolved.datasets
    )
    shape = QueryShape(
        tables=tables,
        columns=columns,
        aggregates=tuple(dict.fromkeys(aggregates)),
        joins=tuple(dict.fromkeys(joins)),
        outputs=_output_columns(resolved, outputs),
        aggregated_output=_aggregated(outputs),
        set_operations=sum(1 for _ in resolved.tree.find_all(exp.Union)),
        subqueries=sum(1 for s in resolved.scopes if s.is_derived_table or s.is_cte),
    )
    return Description(resolved=resolved, uses=tuple(uses), output_scopes=outputs, shape=shape)
