"""Per-unit partials over a join on the unit key, with the measure side aggregated before the join.

The companion statistics group a query's rows by cell and unit (``trust.sql.companions``). When
the query joins two sources on the unit key (claims to PAYE on the person), that grouping runs
over the joined rows: every claim row times every PAYE row of the person, 88 million rows for
10M claims and 30M PAYE rows, into 8 million groups, which did not fit in 2 GB. When the cells
come from one side only, the other side needs only one row per unit: its partials aggregated per
unit first, then joined. The result is the same, group for group:

- a partial over the aggregated side: ``SUM``/``COUNT`` are the sums of its per-unit sums/counts
  over the other side's rows (each of them met every row of the unit), ``MIN``/``MAX`` the
  extremes of its per-unit extremes;
- a partial over the other side: ``SUM``/``COUNT`` weighted by the number of the unit's rows it
  met (``n``), ``MIN``/``MAX`` unchanged;
- a unit with no row on the aggregated side (after that side's own conditions) has no row in
  either form.

Anything else (a partial or a condition over both sides, an outer join, several joins, grouping
sets) is left as it was.
"""

from __future__ import annotations

from sqlglot import exp

PREFIX = "__sdc_"


def _tables(node: exp.Expr) -> set[str] | None:
    """The source aliases ``node``'s columns name; None if a column is unqualified or it has a subquery."""
    if node.find(exp.Select, exp.Subquery) is not None:
        return None
    out = set()
    for col in node.find_all(exp.Column):
        if not col.table:
            return None
        out.add(col.table)
    return out


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _alias(source: exp.Expr) -> str:
    return str(source.alias_or_name)


def preaggregate(inner: exp.Select) -> exp.Select:
    """``inner`` (``SELECT keys, unit, partials FROM a JOIN b ON a.k = b.k WHERE ... GROUP BY keys, unit``)
    with one side aggregated per unit before the join when that gives the same rows; else ``inner``."""
    joins = inner.args.get("joins") or []
    from_ = inner.args.get("from_")
    group = inner.args.get("group")
    if len(joins) != 1 or from_ is None or group is None or group.args.get("grouping_sets"):
        return inner
    join = joins[0]
    if join.args.get("side") or (join.args.get("kind") or "").upper() not in ("", "INNER") or join.args.get("using"):
        return inner
    on = join.args.get("on")
    if not (isinstance(on, exp.EQ) and isinstance(on.this, exp.Column) and isinstance(on.expression, exp.Column)):
        return inner
    sources = {_alias(from_.this): from_.this, _alias(join.this): join.this}
    if len(sources) != 2 or {on.this.table, on.expression.table} != set(sources):
        return inner
    keys = group.expressions
    for measured in (_alias(join.this), _alias(from_.this)):  # the side to aggregate first: cells not from it
        other = next(a for a in sources if a != measured)
        key = on.this if on.this.table == measured else on.expression
        built = _build(inner, keys, sources[measured], other, key)
        if built is not None:
            out, aggregated = built
            place = out.args["joins"][0] if measured == _alias(join.this) else out.args["from_"]
            place.set("this", aggregated)
            return out
    return inner


def _build(
    inner: exp.Select, keys: list[exp.Expr], source: exp.Expr, other: str, key: exp.Column
) -> tuple[exp.Select, exp.Subquery] | None:
    """A copy of ``inner`` reading ``source`` aggregated per ``key`` (put in place by the caller) and that
    aggregate, or None if the result could differ."""
    measured = _alias(source)
    # Group keys: the cells from the other side only; the unit may be the measured side's join key.
    for k in keys:
        refs = _tables(k)
        if refs is None:
            return None
        if measured in refs and any(c.table == measured and c.name != key.name for c in k.find_all(exp.Column)):
            return None
    conditions = _conjuncts(inner.args["where"].this if inner.args.get("where") else None)
    own: list[exp.Expr] = []  # conditions on the measured side alone: applied before aggregating
    rest: list[exp.Expr] = []
    for c in conditions:
        refs = _tables(c)
        if refs is None or refs == {measured, other}:
            return None
        (own if refs == {measured} else rest).append(c)
    n = exp.column(f"{PREFIX}n", table=measured, quoted=True)
    per_unit: list[exp.Expr] = [key.copy(), exp.alias_(exp.Count(this=exp.Star()), f"{PREFIX}n", quoted=True)]
    projections: list[exp.Expr] = []
    for i, proj in enumerate(inner.expressions):
        value = proj.unalias() if isinstance(proj, exp.Alias) else proj
        if not isinstance(value, exp.AggFunc):  # a cell key or the unit
            projections.append(proj.copy())
            continue
        refs = _tables(value)
        if (
            refs is None
            or refs == {measured, other}
            or isinstance(value.this, exp.Distinct)
            or value.args.get("expressions")
        ):
            return None
        if refs == {measured}:
            column = f"{PREFIX}c{i}"
            per_unit.append(exp.alias_(value.copy(), column, quoted=True))
            ref = exp.column(column, table=measured, quoted=True)
            if isinstance(value, exp.Sum):
                combined: exp.Expr = exp.Sum(this=ref)
            elif isinstance(value, exp.Count):
                combined = exp.cast(exp.Sum(this=ref), "BIGINT")
            elif isinstance(value, (exp.Max, exp.Min)):
                combined = type(value)(this=ref)
            else:
                return None
        elif isinstance(value, exp.Sum):  # the other side's values, once per row of the unit they met
            combined = exp.Sum(this=exp.Mul(this=exp.paren(value.this.copy()), expression=n.copy()))
        elif isinstance(value, exp.Count):
            if isinstance(value.this, exp.Star) or value.this is None:
                combined = exp.cast(exp.Sum(this=n.copy()), "BIGINT")
            else:
                met = exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.Not(this=exp.Is(this=exp.paren(value.this.copy()), expression=exp.Null())),
                            true=n.copy(),
                        )
                    ],
                    default=exp.Literal.number(0),
                )
                combined = exp.cast(exp.Sum(this=met), "BIGINT")
        elif isinstance(value, (exp.Max, exp.Min)):
            combined = value.copy()
        else:
            return None
        projections.append(exp.alias_(combined, proj.alias, quoted=True) if isinstance(proj, exp.Alias) else combined)
    aggregated = exp.Select(expressions=per_unit).from_(source.copy(), copy=False)
    if own:
        aggregated.set("where", exp.Where(this=exp.and_(*[c.copy() for c in own])))
    aggregated.set("group", exp.Group(expressions=[key.copy()]))
    out = inner.copy()
    out.set("expressions", projections)
    out.set("where", exp.Where(this=exp.and_(*[c.copy() for c in rest])) if rest else None)
    return out, exp.Subquery(this=aggregated, alias=exp.TableAlias(this=exp.to_identifier(measured, quoted=True)))
