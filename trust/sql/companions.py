"""Companion statistics for disclosure control, computed by the same query as the result.

Each output SELECT (each branch of a UNION ALL) is turned into a two-level aggregation that
reads the data once::

    SELECT <the analyst's columns, re-aggregated>, <companions>
    FROM (SELECT <group keys>, <unit> AS __sdc_u, <per-unit partial aggregates>
          FROM <the analyst's FROM and joins> WHERE <the analyst's WHERE>
          GROUP BY <group keys>, <unit>) AS __sdc_units
    GROUP BY <group keys>

The inner level holds one row per unit (person or business) per cell, so one person's many
rows count once. The outer level re-aggregates the partials into exactly the analyst's values
(``count`` is the sum of per-unit counts, ``avg`` is sum over count, ``count(DISTINCT unit)``
counts inner rows) and adds, per magnitude aggregate, the largest per-unit contributions
(``max(x, n)``), the total, the non-zero contributors and whether any unit's contribution is
negative; per ``min``/``max`` the most extreme per-unit values; per row the UNION ALL branch it
came from and the hashes of its units (the population fingerprint for differencing).

No ``LIST`` aggregate is generated: in DuckDB 1.5.5 a UNION ALL of three or more branches with
``list()`` over about a million rows deadlocks, and ``interrupt()`` does not end it. Hashes
travel as ``string_agg`` text; aggregates that would need per-unit lists (``median``,
quantiles, ``count(DISTINCT x)`` of a non-unit, ``sum(DISTINCT x)``) take the fallback below.

``rewrite`` calls ``add_companions`` once, after its own ``count(DISTINCT unit)`` columns are
in place; the ``Companions`` it returns tells ``trust.sdc.protect`` which hidden column holds
what. When a construct cannot be re-aggregated, the SELECT is left as it was and its magnitude
cells go to review instead (``single_scan`` is then False): never a wrong number, never a
silent pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from trust.sdc.formula import Formula
from trust.sdc.plan import Companions, Contribution, Publication, Slot
from trust.sql.dialects import TrustDuckDB, hex64, text_hash, top_n, unit_hash
from trust.sql.parse import DIALECT
from trust.sql.preaggregate import preaggregate
from trust.sql.publish import aggregates, formula, kind
from trust.sql.refusals import reject
from trust.sql.shape import OutputColumn

PREFIX = "__sdc_"
DEFAULT_DEPTH = 10  # largest contributions kept per cell: covers dominance n and min_units up to 10
CANARY = "labour-market-data-trust/population-v1"  # hashed by the engine: fingerprints compare only within one hash
MAGNITUDE = {"sum", "avg"}
EXTREME = {"min", "max"}
_INNER = f"{PREFIX}units"
_UNIT = f"{PREFIX}u"
_SET = f"{PREFIX}set"
KEY_PARAMETER = "trust_key"  # the record-key secret, bound by the engine at run time: never in the SQL text
KEY_SPACE = 4294967296  # record keys and cell keys are summed modulo 2**32


def record_key(unit: exp.Expr) -> exp.Expr:
    """A unit's record key: the first 64 bits of SHA-256 of the secret and the unit's key, as an unsigned integer.

    The secret is the query parameter ``$trust_key``, which only the trust binds; the analyst's SQL can
    name no parameter (``trust.sql.parse``) and no hash function (``trust.sql.validate``). Built from
    portable nodes (``trust.sql.dialects``): the same key on every engine."""
    text = exp.DPipe(
        this=exp.DPipe(this=exp.Placeholder(this=KEY_PARAMETER), expression=exp.Literal.string(":")),
        expression=exp.Cast(this=exp.paren(unit.copy()), to=exp.DataType.build("VARCHAR")),
        safe=True,
    )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=exp.paren(unit.copy()), expression=exp.Null()), true=exp.Null())],
        default=hex64(exp.SHA2(this=text, length=exp.Literal.number(256))),
    )


class Unavailable(Exception):
    """This SELECT cannot be re-aggregated per unit; its magnitude cells go to review."""


@dataclass
class _Slot:
    position: int
    index: int  # the n-th magnitude or extreme aggregate in the column
    function: str
    columns: dict[str, str]


def _function(agg: Any) -> str | None:
    return {exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max"}.get(type(agg))


def _measured(proj: Any) -> list[Any]:
    return [a for a in proj.find_all(exp.AggFunc) if (_function(a) or "") in MAGNITUDE | EXTREME]


def _sql(node: Any) -> str:
    # Not copied first: generating DuckDB SQL for an expression leaves it as it was (the dialect's
    # transforms rewrite whole statements, and these are never a statement's root).
    return str(node.sql(TrustDuckDB, copy=False))


def _parse(text: str) -> Any:
    return sqlglot.parse_one(text, read=DIALECT)


def _double(node: exp.Expr) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))


def _grouping_bits(units: Sequence[exp.Expr]) -> exp.Expr:
    """Which grouping set an inner row belongs to, as ``GROUPING(a, b, ...)`` numbers it (a bit per unit,
    the first the highest), from one-argument ``GROUPING`` calls, which every engine has."""
    n = len(units)
    terms: list[exp.Expr] = [
        exp.Mul(this=exp.func("GROUPING", u.copy()), expression=exp.Literal.number(2 ** (n - 1 - i)))
        for i, u in enumerate(units)
    ]
    total = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return exp.paren(total)


def _col(name: str) -> exp.Column:
    return exp.column(name, table=_INNER, quoted=True)


def _unit_or_null(node: Any, unit: str | frozenset[str]) -> bool:
    """True when every non-NULL value of ``node`` is the unit itself (``u`` or ``CASE WHEN c THEN u END``);
    ``unit`` may be the SQL of several expressions equal on every row (join keys)."""
    if node is None or isinstance(node, exp.Null):
        return True
    node = node.unnest()
    if _sql(node) in ({unit} if isinstance(unit, str) else unit):
        return True
    if isinstance(node, exp.Case) and node.args.get("this") is None:
        values = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        return all(_unit_or_null(v, unit) for v in values)
    if isinstance(node, exp.If):
        return _unit_or_null(node.args.get("true"), unit) and _unit_or_null(node.args.get("false"), unit)
    return False


def _present(node: Any, unit: str | frozenset[str]) -> exp.Expr:
    """For a ``_unit_or_null`` expression: when it is not NULL, given the unit is not (a boolean, built)."""
    if node is None or isinstance(node, exp.Null):
        return exp.false()
    node = node.unnest()
    if _sql(node) in ({unit} if isinstance(unit, str) else unit):
        return exp.true()
    if isinstance(node, exp.Case):
        ifs = [exp.If(this=i.this.copy(), true=_present(i.args.get("true"), unit)) for i in node.args["ifs"]]
        return exp.Case(ifs=ifs, default=_present(node.args.get("default"), unit))
    return exp.Case(
        ifs=[exp.If(this=node.this.copy(), true=_present(node.args.get("true"), unit))],
        default=_present(node.args.get("false"), unit),
    )


def _any_row(condition: exp.Expr) -> exp.Expr:
    """``MAX(CASE WHEN condition THEN 1 ELSE 0 END)``: whether any of a unit's rows meets ``condition``."""
    return exp.Max(
        this=exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=exp.Literal.number(0))
    )


def _equated(select: exp.Select, unit: exp.Expr) -> set[str]:
    """The SQL of columns an inner join's ON makes equal to ``unit`` on every row (``u.id = p.id``),
    through chains of such equalities; a LEFT, RIGHT, FULL or CROSS join equates nothing."""
    pairs: list[tuple[str, str]] = []
    for join in select.args.get("joins") or []:
        if (
            join.args.get("side")
            or (join.args.get("kind") or "").upper() not in ("", "INNER")
            or join.args.get("using")
        ):
            continue
        on = join.args.get("on")
        conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on] if on is not None else []
        for c in conjuncts:
            if isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Column):
                pairs.append((_sql(c.this), _sql(c.expression)))
    same, grew = {_sql(unit)}, True
    while grew:
        grew = False
        for a, b in pairs:
            if (a in same) != (b in same):
                same |= {a, b}
                grew = True
    return same - {_sql(unit)}


class _Branch:
    """Builds the two levels of one output SELECT."""

    def __init__(
        self, select: exp.Select, unit: exp.Expr, others: Sequence[exp.Expr] = (), *, keyed: bool = False
    ) -> None:
        self.select = select
        self.keyed = keyed  # units grouped by their record keys (noise mode), not by DuckDB's hash
        self.unit = unit
        self.unit_sql = _sql(unit)
        # Other datasets' units equal to this one on every row (an inner join on the unit key) are this
        # unit: grouped once. Others (a join of people to businesses) are counted in grouping sets of their own.
        same = _equated(select, unit)
        self.same = frozenset({self.unit_sql, *same})
        self.others = [
            o for o in dict((_sql(o), o) for o in others).values() if _sql(o) != self.unit_sql and _sql(o) not in same
        ]
        self.partials: list[Any] = []
        self.seen: dict[str, str] = {}
        self.keys: list[exp.Expr] = self._keys()

    def _set(self, j: int) -> int:
        """GROUPING(u, v0, v1, ...) of the grouping set of unit j (0: the unit; 1..: the others)."""
        k = len(self.others)
        return sum(1 << (k - i) for i in range(k + 1) if i != j)

    def filtered(self, agg: exp.Expr, *conditions: exp.Expr, unit: int = 0) -> exp.Expr:
        """``agg`` with ``FILTER (WHERE ...)``: the grouping set of ``unit``, and ``conditions`` (built, not parsed)."""
        conds = list(conditions)
        if self.others:
            conds.append(exp.EQ(this=_col(_SET), expression=exp.Literal.number(self._set(unit))))
        if not conds:
            return agg
        where = conds[0] if len(conds) == 1 else exp.and_(*conds, copy=False)
        return exp.Filter(this=agg, expression=exp.Where(this=where))

    def where(self, *conditions: str, unit: int = 0) -> str:
        """`` FILTER (WHERE ...)`` for an outer aggregate: the grouping set of ``unit``, and ``conditions``."""
        conds = list(conditions)
        if self.others:
            conds.append(f"{_sql(_col(_SET))} = {self._set(unit)}")
        return f" FILTER (WHERE {' AND '.join(conds)})" if conds else ""

    def _which(self, node: exp.Expr | None) -> int | None:
        """Which unit ``node`` is (or is NULL or): 0 for the unit, j for the j-th other, None for neither."""
        for j in range(len(self.others) + 1):
            if _unit_or_null(node, self._unit_sqls(j)):
                return j
        return None

    def _unit_sqls(self, j: int) -> frozenset[str]:
        """The SQL of unit j: for the unit, every expression equal to it on every row."""
        return self.same if j == 0 else frozenset({_sql(self.others[j - 1])})

    def _is_unit(self, node: exp.Expr, j: int) -> bool:
        return _sql(node) in self._unit_sqls(j)

    def _keys(self) -> list[exp.Expr]:
        group = self.select.args.get("group")
        if group is None:
            return []
        if any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "totals")) or any(
            isinstance(e, (exp.Rollup, exp.Cube, exp.GroupingSets)) for e in group.expressions
        ):
            raise Unavailable("ROLLUP, CUBE and GROUPING SETS")
        if group.args.get("all"):
            return [p.unalias() for p in self.select.expressions if not any(True for _ in p.find_all(exp.AggFunc))]
        return list(group.expressions)

    def partial(self, node: exp.Expr) -> exp.Column:
        """A per-unit aggregate in the inner level (the same one once, however often it is needed)."""
        key = _sql(node)
        if key not in self.seen:
            self.seen[key] = f"{PREFIX}a{len(self.partials)}"
            self.partials.append(exp.alias_(node, self.seen[key], quoted=True, copy=False))
        return _col(self.seen[key])

    def combine(self, agg: exp.AggFunc) -> exp.Expr:
        """The outer expression that gives ``agg``'s value from per-unit partials."""
        arg = agg.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            if len(arg.expressions) != 1:
                raise Unavailable("an aggregate over several DISTINCT expressions")
            arg = arg.expressions[0]
        a = arg.copy() if arg is not None else None
        zero = exp.Literal.number(0)

        def whole(node: exp.Expr, *conditions: exp.Expr, unit: int = 0) -> exp.Expr:  # a count: 0, never NULL
            total = exp.Coalesce(this=self.filtered(exp.Sum(this=node), *conditions, unit=unit), expressions=[zero])
            return exp.Cast(this=total, to=exp.DataType.build("BIGINT"))

        if isinstance(agg, exp.Count):
            j = self._which(a) if distinct else None
            if distinct and j is None:
                raise Unavailable("count(DISTINCT ...) of something other than a unit")
            if distinct and j is not None:
                col = _col(self._unit_column(j))
                if a is not None and self._is_unit(a.unnest(), j):
                    return self.filtered(exp.Count(this=col), unit=j)  # one inner row per unit: count them
                # CASE WHEN c THEN unit END: the units with a row where c holds
                p = self.partial(_any_row(_present(a, self._unit_sqls(j))))
                return whole(p, exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())), unit=j)
            return whole(self.partial(agg.copy()))
        if a is None:
            raise Unavailable(f"{agg.key}() without an argument")
        if distinct:
            raise Unavailable(f"{agg.key}(DISTINCT ...)")
        if isinstance(agg, exp.Sum):
            return self.filtered(exp.Sum(this=self.partial(exp.Sum(this=a))))
        if isinstance(agg, exp.Avg):
            s = self.partial(exp.Sum(this=a))
            n = self.partial(exp.Count(this=a.copy()))
            return exp.Div(
                this=exp.Cast(this=self.filtered(exp.Sum(this=s)), to=exp.DataType.build("DOUBLE")),
                expression=exp.Nullif(this=self.filtered(exp.Sum(this=n)), expression=exp.Literal.number(0)),
                typed=False,
                safe=False,
            )
        if isinstance(agg, (exp.Min, exp.Max)) and not agg.expressions:
            return self.filtered(type(agg)(this=self.partial(type(agg)(this=a))))
        raise Unavailable(f"aggregate {agg.key}")

    @staticmethod
    def _unit_column(j: int) -> str:
        return _UNIT if j == 0 else f"{PREFIX}v{j - 1}"

    @staticmethod
    def _key_column(j: int) -> str:
        """The record key of unit j (noise mode), computed once per inner row, never per source row."""
        return f"{PREFIX}k" if j == 0 else f"{PREFIX}k{j - 1}"

    def reaggregate(self, node: exp.Expr) -> exp.Expr:
        """A copy of ``node`` reading the inner level: aggregates combined, group keys by name."""
        node = node.copy()
        for agg in [a for a in node.find_all(exp.AggFunc) if a.find_ancestor(exp.AggFunc) is None]:
            if isinstance(agg.parent, exp.Filter):
                raise Unavailable("FILTER on an aggregate")
            combined = self.combine(agg)
            if agg is node:
                return combined
            agg.replace(combined)
        keys = {_sql(k): f"{PREFIX}g{i}" for i, k in enumerate(self.keys)}
        kinds = tuple({type(k.unnest()) for k in self.keys} | {type(k) for k in self.keys})  # SQL only for these

        def by_key(n: exp.Expr) -> exp.Expr:
            if isinstance(n, kinds) and not isinstance(n, (exp.Literal, exp.Null, exp.Boolean)):
                text = _sql(n)
                if text in keys:
                    return _col(keys[text])
            return n

        node = node.transform(by_key, copy=False)
        for col in node.find_all(exp.Column):
            if col.table and col.table != _INNER:
                raise Unavailable(f"column {_sql(col)} is neither a group key nor aggregated")
        return node

    def magnitude(self, agg: exp.AggFunc, depth: int) -> dict[str, exp.Expr]:
        """The outer companions of one sum/avg/min/max: per-unit figures of its argument."""
        arg = agg.this
        if isinstance(arg, exp.Distinct) or arg is None:
            raise Unavailable("DISTINCT inside a magnitude aggregate")
        fn = _function(agg)
        if fn in MAGNITUDE:
            s = self.partial(exp.Sum(this=arg.copy()))
            out: dict[str, exp.Expr] = {}
            zero = exp.Literal.number(0)
            # The inner rows of grouping set j hold per-(cell, unit j) subtotals of the same partial.
            for j in range(len(self.others) + 1):
                suffix = f"@{j}" if j else ""
                out |= {
                    "top" + suffix: self.filtered(top_n(_double(s.copy()), depth, largest=True), unit=j),
                    "total" + suffix: _double(self.filtered(exp.Sum(this=s.copy()), unit=j)),
                    "negative" + suffix: exp.Coalesce(
                        this=self.filtered(exp.LogicalOr(this=exp.LT(this=s.copy(), expression=zero.copy())), unit=j),
                        expressions=[exp.false()],
                    ),
                    "contributors" + suffix: self.filtered(
                        exp.Count(this=exp.Star(), big_int=True), exp.NEQ(this=s.copy(), expression=zero.copy()), unit=j
                    ),
                }
            return out
        p = self.partial((exp.Min if fn == "min" else exp.Max)(this=arg.copy()))
        top = self.filtered(top_n(p, depth, largest=fn != "min"))
        return {"top": exp.Cast(this=top, to=_type("VARCHAR[]").copy())}

    def published(self, agg: exp.AggFunc, kind: str) -> dict[str, exp.Expr]:
        """The hidden columns that perturbing ``agg`` needs (noise mode): its true value, its cell key (the
        record keys of the units that contribute to it, summed), and for magnitudes the largest contribution
        and its unit's record key, for averages the count and its key."""
        value = _double(exp.Paren(this=self.combine(agg)))
        arg = agg.this
        distinct = isinstance(arg, exp.Distinct)
        a = (arg.expressions[0] if distinct else arg) if arg is not None else None
        zero = exp.Literal.number(0)

        def key(column: exp.Expr, condition: exp.Expr, unit: int = 0) -> exp.Expr:
            summed = exp.Coalesce(
                this=self.filtered(exp.Sum(this=column), condition, unit=unit), expressions=[zero.copy()]
            )
            return exp.Cast(
                this=exp.Mod(this=summed, expression=exp.Literal.number(KEY_SPACE)), to=exp.DataType.build("BIGINT")
            )

        def present(node: exp.Expr) -> exp.Expr:
            return exp.Not(this=exp.Is(this=node, expression=exp.Null()))

        u = _col(self._key_column(0))
        if isinstance(agg, exp.Count):
            j = self._which(a) if distinct else None
            if distinct and j is not None:
                unit_col, key_col = _col(self._unit_column(j)), _col(self._key_column(j))
                if a is not None and self._is_unit(a.unnest(), j):
                    return {"value": value, "cell_key": key(key_col, present(unit_col), j)}
                p = self.partial(_any_row(_present(a, self._unit_sqls(j))))
                return {"value": value, "cell_key": key(key_col, exp.GT(this=p, expression=zero.copy()), j)}
            p = self.partial(agg.copy())
            return {"value": value, "cell_key": key(u, exp.GT(this=p, expression=zero.copy()))}
        assert a is not None  # combine() refused an argument-less magnitude
        if isinstance(agg, (exp.Min, exp.Max)):
            p = self.partial(type(agg)(this=a.copy()))
            return {"value": value, "cell_key": key(u, present(p))}
        total = self.partial(exp.Sum(this=a.copy()))
        out = {"value": value, "cell_key": key(u.copy(), exp.NEQ(this=total.copy(), expression=zero.copy()))}
        if kind in ("sum", "avg"):
            share = f"ABS(CAST({_sql(total)} AS DOUBLE))"
            w = self.where(f"{_sql(total)} <> 0")
            out["largest"] = self.filtered(
                exp.Max(this=exp.Abs(this=_double(total.copy()))), exp.NEQ(this=total.copy(), expression=zero.copy())
            )
            out["top_key"] = _parse(f"STRUCT_EXTRACT(MAX(STRUCT_PACK(c := {share}, k := {_sql(u)})){w}, 'k')")
        if isinstance(agg, exp.Avg):
            n = self.partial(exp.Count(this=a.copy()))
            out["value"] = _double(self.filtered(exp.Sum(this=total.copy())))  # the sum; the count is its own
            out["count"] = _double(exp.Coalesce(this=self.filtered(exp.Sum(this=n.copy())), expressions=[zero.copy()]))
            out["count_key"] = key(u.copy(), exp.GT(this=n.copy(), expression=zero.copy()))
        return out

    def apply(
        self,
        slots: list[_Slot],
        outputs: int,
        depth: int,
        branch: int,
        publish: Callable[[_Branch], dict[str, exp.Expr]] | None = None,
    ) -> None:
        select = self.select
        projections = []
        for proj in select.expressions:
            alias = proj.alias if isinstance(proj, exp.Alias) else None
            value = self.reaggregate(proj.unalias() if alias else proj)
            projections.append(exp.alias_(value, alias, quoted=True, copy=False) if alias else value)
        having = select.args.get("having")
        new_having = exp.Having(this=self.reaggregate(having.this)) if having is not None else None
        order = select.args.get("order")
        new_order = self.reaggregate(order) if order is not None else None
        extra: dict[str, exp.Expr] = {}
        for slot in slots:
            found = _measured(select.expressions[slot.position]) if slot.position < outputs else []
            if slot.index < len(found) and _function(found[slot.index]) == slot.function:
                for key, value in self.magnitude(found[slot.index], depth).items():
                    extra[slot.columns[key]] = value
        published = publish(self) if publish is not None else {}
        # Noise: units are grouped by their own keys, and each unit's record key (a SHA-256) is computed
        # once per inner row (a unit in a cell), never per source row. Suppression: by their 64-bit hash,
        # the population fingerprint's element (two units colliding would count as one: fewer units,
        # larger shares).
        hashed = [u.copy() if self.keyed else unit_hash(u) for u in [self.unit, *self.others]]
        names = [self._unit_column(j) for j in range(len(hashed))]
        inner = exp.Select(
            expressions=[
                exp.alias_(k.copy(), f"{PREFIX}g{i}", quoted=True, copy=False) for i, k in enumerate(self.keys)
            ]
            + [exp.alias_(h, n, quoted=True, copy=False) for h, n in zip(hashed, names)]
            + self.partials
        )
        inner.set("from_", select.args.get("from_"))
        inner.set("joins", select.args.get("joins"))
        inner.set("where", select.args.get("where"))
        if self.others:
            sets = [exp.Tuple(expressions=[k.copy() for k in self.keys] + [h.copy()]) for h in hashed]
            inner.set("group", exp.Group(grouping_sets=[exp.GroupingSets(expressions=sets)]))
            inner.select(
                exp.alias_(_grouping_bits(hashed), _SET, quoted=True),
                append=True,
                copy=False,
            )
        else:
            inner.set("group", exp.Group(expressions=[k.copy() for k in self.keys] + [hashed[0].copy()]))
            # A join on the unit key with the cells from one side: the other side per unit, before the join.
            inner = preaggregate(inner)
        select.set("expressions", projections)
        source: exp.Select = inner
        if self.keyed:  # the record keys, on the inner rows
            grouped = f"{PREFIX}grouped"
            source = exp.Select(
                expressions=[exp.Star()]
                + [
                    exp.alias_(
                        record_key(exp.column(n, table=grouped, quoted=True)),
                        self._key_column(j),
                        quoted=True,
                        copy=False,
                    )
                    for j, n in enumerate(names)
                ]
            )
            source.set(
                "from_",
                exp.From(
                    this=exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(grouped, quoted=True)))
                ),
            )
        select.set(
            "from_",
            exp.From(this=exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier(_INNER, quoted=True)))),
        )
        select.set("joins", None)
        select.set("where", None)
        select.set(
            "group",
            exp.Group(expressions=[_col(f"{PREFIX}g{i}") for i in range(len(self.keys))]) if self.keys else None,
        )
        select.set("having", new_having)
        if order is not None:
            select.set("order", new_order)
        unit = _sql(_col(_UNIT))
        for slot in slots:
            for key, name in slot.columns.items():
                select.select(
                    exp.alias_(extra.get(name) or _null(key, slot.function), name, quoted=True, copy=False),
                    append=True,
                    copy=False,
                )
        for name, value in published.items():
            select.select(exp.alias_(value, name, quoted=True, copy=False), append=True, copy=False)
        # The population fingerprint is for differencing, which only suppression needs.
        population = (
            _cast_null("VARCHAR")
            if self.keyed
            else _parse(f"STRING_AGG(CAST({unit} AS VARCHAR), ','){self.where(f'{unit} IS NOT NULL')}")
        )
        _common(select, branch, population)


def _null(key: str, function: str) -> exp.Expr:
    key = key.split("@")[0]
    if key == "top":
        return _cast_null("VARCHAR[]" if function in EXTREME else "DOUBLE[]")
    return _cast_null({"negative": "BOOLEAN", "contributors": "BIGINT"}.get(key, "DOUBLE"))


@functools.lru_cache(maxsize=32)
def _type(name: str) -> exp.DataType:
    return exp.DataType.build(name, dialect=DIALECT)


def _cast_null(type_name: str) -> exp.Expr:
    """``CAST(NULL AS type_name)``, built."""
    return exp.Cast(this=exp.Null(), to=_type(type_name).copy())


def _common(select: exp.Select, branch: int, population: exp.Expr) -> None:
    select.select(
        exp.alias_(exp.Literal.number(branch), f"{PREFIX}branch", quoted=True, copy=False), append=True, copy=False
    )
    select.select(exp.alias_(population, f"{PREFIX}population", quoted=True, copy=False), append=True, copy=False)
    select.select(
        exp.alias_(
            text_hash(CANARY),
            f"{PREFIX}canary",
            quoted=True,
            copy=False,
        ),
        append=True,
        copy=False,
    )


def _constant(proj: exp.Expr) -> bool:
    return not any(True for _ in proj.find_all(exp.Column, exp.AggFunc))


def _measure_unit(
    select: exp.Select, slots: list[_Slot], units: Sequence[tuple[str, exp.Expr]], outputs: int
) -> tuple[str, exp.Expr]:
    """The unit whose contributions count: that of the dataset the first measure comes from."""
    for slot in slots:
        if slot.position >= outputs or slot.function not in MAGNITUDE:
            continue
        found = _measured(select.expressions[slot.position])
        if slot.index < len(found):
            tables = {c.table for c in found[slot.index].find_all(exp.Column)}
            for label, expr in units:
                if isinstance(expr, exp.Column) and expr.table in tables:
                    return label, expr
    return units[0]


def add_companions(
    selects: Sequence[exp.Select],
    columns: Sequence[OutputColumn],
    units: Sequence[Sequence[tuple[str, exp.Expr]]],
    *,
    depth: int = DEFAULT_DEPTH,
    keyed: bool = False,
    min_units: int = 0,
) -> Companions:
    """Turn each output SELECT (each UNION ALL branch) into its two-level form with companion columns appended.

    ``columns`` are the result's columns (``QueryShape.outputs``); ``units`` holds, per SELECT, the
    (label, unit expression) of each dataset it reads, as ``rewrite`` traced them. Call once, after
    rewrite's own companion columns are appended.

    ``keyed`` (noise mode): units are grouped by their record keys; each aggregate gets the columns that
    perturbing it needs (``Publication``); the analyst's HAVING moves out of the SQL, to be applied to
    published values; and rows drawn from fewer than ``min_units`` units never leave the engine.
    """
    outputs = len(columns)
    publication, requests = _plan_publication(selects, outputs) if keyed else (None, [])
    if keyed:
        for select in selects:
            _require_units(select, min_units)
    names = [p.alias_or_name for p in selects[0].expressions[:outputs]]
    slots: list[_Slot] = []
    for select in selects:
        for position, proj in enumerate(select.expressions[:outputs]):
            for index, agg in enumerate(_measured(proj)):
                if not any(s.position == position and s.index == index for s in slots):
                    fn = _function(agg) or ""
                    base = f"{PREFIX}{position}_{index}_"
                    cols = {"top": base + "top"}
                    if fn in MAGNITUDE:
                        cols |= {
                            "total": base + "total",
                            "negative": base + "negative",
                            "contributors": base + "contributors",
                        }
                    slots.append(_Slot(position, index, fn, cols))
    slots.sort(key=lambda s: (s.position, s.index))
    # Per magnitude aggregate, the contributions of each other kind of unit too (grouping set k of the inner
    # level); units an inner join equates with the measure's unit are that unit, not another kind.
    kinds = 0
    for branch, select in enumerate(selects):
        scope = list(units[branch]) if branch < len(units) else []
        if scope:
            _, main = _measure_unit(select, slots, scope, outputs)
            same = {_sql(main), *_equated(select, main)}
            kinds = max(kinds, len({_sql(u) for _, u in scope} - same))
    for slot in slots:
        if slot.function in MAGNITUDE:
            base = f"{PREFIX}{slot.position}_{slot.index}_"
            for k in range(1, kinds + 1):
                slot.columns |= {
                    f"{key}@{k}": f"{base}{key}_{k}" for key in ("top", "total", "negative", "contributors")
                }
    labels = []
    single = True
    for branch, select in enumerate(selects):
        scope_units = list(units[branch]) if branch < len(units) else []
        if not scope_units:
            single = False
            _fallback(select, slots, branch)
            if publication is not None:
                _fallback_published(select, publication, requests[branch], None)
            continue
        label, unit = _measure_unit(select, slots, scope_units, outputs)
        labels.append(label)
        wanted = requests[branch] if publication is not None else {}

        def publish(b: _Branch, wanted: dict[int, exp.AggFunc] = wanted) -> dict[str, exp.Expr]:
            assert publication is not None
            return _slot_columns(
                publication.slots, {k: b.published(agg, _kind(publication, k)) for k, agg in wanted.items()}
            )

        try:
            _Branch(select, unit, [u for _, u in scope_units], keyed=keyed).apply(
                slots, outputs, depth, branch, publish if publication is not None else None
            )
        except Unavailable:
            single = False
            _fallback(select, slots, branch)
            if publication is not None:
                _fallback_published(select, publication, wanted, unit)
    totals = tuple(
        tuple(_constant(p.unalias()) and o.kind == "group_key" for p, o in zip(s.expressions[:outputs], columns))
        for s in selects
    )
    contributions = tuple(
        Contribution(
            output=names[s.position],
            position=s.position,
            function=s.function,
            top=s.columns[f"top{at}"],
            total=s.columns.get(f"total{at}"),
            negative=s.columns.get(f"negative{at}"),
            contributors=s.columns.get(f"contributors{at}"),
            unit=k,
        )
        for s in slots
        for k, at in enumerate([""] + [f"@{k}" for k in range(1, kinds + 1)])
        if not k or f"top@{k}" in s.columns
    )
    return Companions(
        unit_label=labels[0] if labels else "",
        contributions=contributions,
        branch=f"{PREFIX}branch",
        totals=totals,
        population=f"{PREFIX}population",
        canary=f"{PREFIX}canary",
        depth=depth,
        single_scan=single,
        publication=publication,
    )


_FIELDS = {"value": "DOUBLE", "cell_key": "BIGINT", "largest": "DOUBLE", "top_key": "UBIGINT", "count": "DOUBLE",
           "count_key": "BIGINT"}  # fmt: skip


def _kind(publication: Publication, key: int) -> str:
    return next(s.kind for s in publication.slots if s.key == key)


def _plan_publication(selects: Sequence[exp.Select], outputs: int) -> tuple[Publication, list[dict[int, exp.AggFunc]]]:
    """Every aggregate of every output SELECT as a slot (shared across branches where position and kind
    agree), each column as a formula over slots, and the analyst's HAVING taken out of the SQL."""
    keys: dict[tuple[int, int, str], int] = {}
    requests: list[dict[int, exp.AggFunc]] = []
    formulas: list[tuple[Formula | None, ...]] = []
    kinds: dict[int, str] = {}
    having: Formula | None = None
    for select in selects:
        found: dict[int, exp.AggFunc] = {}
        by_node: dict[int, int] = {}
        by_text: dict[str, int] = {}
        for position, proj in enumerate(select.expressions[:outputs]):
            for index, agg in enumerate(aggregates(proj)):
                k = kind(agg)
                key = keys.setdefault((position, index, k), len(keys))
                kinds[key] = k
                found[key] = agg
                by_node[id(agg)] = key
                by_text.setdefault(_sql(agg), key)

        def by_identity(agg: exp.AggFunc, by_node: dict[int, int] = by_node) -> int:
            return by_node[id(agg)]

        formulas.append(tuple(
            formula(proj, by_identity) if aggregates(proj) else None for proj in select.expressions[:outputs]
        ))  # fmt: skip
        requests.append(found)
        clause = select.args.get("having")
        if clause is not None:
            if len(selects) > 1:
                raise reject(
                    clause,
                    "HAVING is accepted only in a query without UNION ALL, ROLLUP, CUBE or GROUPING SETS",
                    "having_with_totals",
                )

            def slot_of(agg: exp.AggFunc, by_text: dict[str, int] = by_text) -> int:
                if _sql(agg) not in by_text:
                    raise reject(
                        agg,
                        f"HAVING can test only aggregates the query also selects, so it sees the same "
                        f"published numbers; add {_sql(agg)} to the SELECT list",
                        "having_aggregate",
                    )
                return by_text[_sql(agg)]

            having = formula(clause.this, slot_of)
            select.set("having", None)
    slots = tuple(
        Slot(key=key, kind=kinds[key], value=f"{PREFIX}p{key}_value", cell_key=f"{PREFIX}p{key}_cell_key",
             largest=f"{PREFIX}p{key}_largest" if kinds[key] in ("sum", "avg") else None,
             top_key=f"{PREFIX}p{key}_top_key" if kinds[key] in ("sum", "avg") else None,
             count=f"{PREFIX}p{key}_count" if kinds[key] in ("avg", "avg_count") else None,
             count_key=f"{PREFIX}p{key}_count_key" if kinds[key] in ("avg", "avg_count") else None)
        for key in sorted(kinds)
    )  # fmt: skip
    return Publication(slots=slots, formulas=tuple(formulas), having=having), requests


def _slot_columns(slots: Sequence[Slot], made: dict[int, dict[str, exp.Expr]]) -> dict[str, exp.Expr]:
    """Every slot's columns in one order for every branch (UNION ALL is positional); NULL where a branch lacks it."""
    out: dict[str, exp.Expr] = {}
    for slot in slots:
        for field, sql_type in _FIELDS.items():
            name = getattr(slot, field)
            if name:
                out[name] = made.get(slot.key, {}).get(field) or _cast_null(sql_type)
    return out


def _fallback_published(
    select: exp.Select, publication: Publication, wanted: dict[int, exp.AggFunc], unit: exp.Expr | None
) -> None:
    """Slot columns for a SELECT left in one level: true values, and one key for the whole row (every
    unit in it), since contributions per unit were not computed; magnitudes go to review."""

    def row_key() -> exp.Expr:
        if unit is None:
            return _cast_null("BIGINT")
        summed = exp.Coalesce(
            this=exp.Sum(this=exp.Distinct(expressions=[record_key(unit)])), expressions=[exp.Literal.number(0)]
        )
        return exp.Cast(this=exp.Mod(this=summed, expression=exp.Literal.number(KEY_SPACE)), to=_type("BIGINT").copy())

    made: dict[int, dict[str, exp.Expr]] = {}
    for key, agg in wanted.items():
        arg = agg.this
        cols = {"value": _parse(f"CAST(({_sql(agg)}) AS DOUBLE)"), "cell_key": row_key()}
        if isinstance(agg, exp.Avg) and arg is not None and not isinstance(arg, exp.Distinct):
            cols["value"] = _parse(f"CAST(SUM({_sql(arg)}) AS DOUBLE)")
            cols["count"] = _parse(f"CAST(COUNT({_sql(arg)}) AS DOUBLE)")
            cols["count_key"] = row_key()
        made[key] = cols
    for name, value in _slot_columns(publication.slots, made).items():
        select.select(exp.alias_(value, name, quoted=True, copy=False), append=True, copy=False)


def _require_units(select: exp.Select, min_units: int) -> None:
    """HAVING: every unit count of the row (rewrite's ``__units_`` columns) reaches ``min_units``. Rows
    drawn from fewer never leave the engine, so nothing decided after the data is read (a row limit)
    can depend on whether a small group exists."""
    counts = [p.unalias().copy() for p in select.expressions
              if isinstance(p, exp.Alias) and p.alias.startswith("__units_")]  # fmt: skip
    if not counts:
        return
    least = counts[0] if len(counts) == 1 else exp.func("LEAST", *counts)
    condition = exp.GTE(
        this=exp.func("COALESCE", least, exp.Literal.number(0)), expression=exp.Literal.number(min_units)
    )
    existing = select.args.get("having")
    select.set("having", exp.Having(this=exp.and_(existing.this, condition) if existing is not None else condition))


def _fallback(select: exp.Select, slots: list[_Slot], branch: int) -> None:
    """Leave the SELECT as it was: companions NULL, so its magnitude cells go to review."""
    for slot in slots:
        for key, name in slot.columns.items():
            select.select(exp.alias_(_null(key, slot.function), name, quoted=True, copy=False), append=True, copy=False)
    _common(select, branch, _cast_null("VARCHAR"))
