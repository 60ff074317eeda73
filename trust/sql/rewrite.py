"""Stage 6: apply the policy's obligations to the checked tree and add disclosure companions.

- Each catalogue table becomes a leaf subquery over exactly its registered files, projecting
  only registered columns, with column masks in place of the masked columns and the row filters
  in its WHERE. Because every path to the data goes through a leaf, CTEs, subqueries, self-joins
  and unions cannot get around a filter or a mask.
- Each result row gets ``count(DISTINCT unit_key)`` per dataset it draws on, traced through
  derived tables, so disclosure control counts people (or businesses), not rows. A dataset on
  the right of a LEFT JOIN that matched no one in a row counts as absent (NULL), not as 0.
- Each aggregate's contributor partition (``partition.py``) gets a unit count per part, so a
  cell is shown only when every part of its group (e.g. the women and the men behind
  ``sum(CASE WHEN sex = 'F' THEN 1 ELSE 0 END)``) is safe on its own.
The SQL that runs is generated from this tree, never taken from the analyst's text.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from trust.catalog.model import Catalog, Dataset
from trust.errors import NotAllowed
from trust.sql.companions import DEFAULT_DEPTH, Companions, add_companions
from trust.sql.describe import Description, output_scopes
from trust.sql.dialects import generate
from trust.sql.parse import DIALECT
from trust.sql.partition import branch_values, branching, partition
from trust.sql.refusals import position
from trust.sql.shape import OutputColumn

UNITS_PREFIX = "__units_"
_UNIT_PREFIX = "__unit_"


@dataclass(frozen=True)
class Obligations:
    row_filters: Mapping[str, tuple[str, ...]]  # dataset -> SQL conditions over its columns
    column_masks: Mapping[str, Mapping[str, str]]  # dataset -> column -> SQL expression


@dataclass(frozen=True)
class Plan:
    sql: str
    outputs: tuple[OutputColumn, ...]
    unit_columns: tuple[str, ...]
    unit_labels: tuple[str, ...]
    datasets: tuple[str, ...]
    # Per output column, the unit columns that bear on its cells: the datasets' units and the parts
    # of its own aggregates' partitions. The minimum over all unit columns of a row is also safe.
    cell_units: tuple[tuple[str, ...], ...] = ()
    # Which hidden columns hold the per-unit contributions, branches and populations (trust.sql.companions).
    companions: Companions | None = None
    # Per output SELECT (UNION ALL branch), what selects its rows' units: its FROM, joins, WHERE and group
    # keys, canonical SQL hashed. Differencing tells "the same people, another way" from a repeat.
    definitions: tuple[str, ...] = ()
    # The SQL reads the record-key secret as the parameter ``$trust_key`` (bound by the engine, never in the text).
    keyed: bool = False


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _policy_expression(text: str, ds: Dataset, what: str) -> exp.Expr:
    try:
        node = sqlglot.parse_one(text, read=DIALECT, into=exp.Condition)
    except Exception:
        node = None
    if node is None or any(isinstance(n, (exp.Query, exp.Table, exp.Anonymous)) for n in node.walk()):
        raise NotAllowed(
            f"The policy's {what} for {ds.id} is not a valid expression; the policy owner must fix it.",
            rule="policy_expression",
        )
    names = {c.name for c in ds.columns}
    for col in node.find_all(exp.Column):
        if col.name.lower() not in names or col.table:
            raise NotAllowed(
                f"The policy's {what} for {ds.id} names unknown column {col.sql()!r}; the policy owner must fix it.",
                rule="policy_expression",
            )
    return node


@functools.lru_cache(maxsize=256)
def _parsed_leaf(text: str) -> exp.Expr:
    """A leaf's SELECT parsed once (a project's queries read the same datasets under the same
    obligations); callers take a copy."""
    return sqlglot.parse_one(text, read=DIALECT)


def leaf_sql(ds: Dataset, obligations: Obligations) -> str:
    masks = obligations.column_masks.get(ds.id, {})
    cols = []
    for c in ds.columns:
        ident = f'"{c.name}"'
        if c.name in masks:
            expr = _policy_expression(masks[c.name], ds, f"mask on {c.name}")
            cols.append(f"{expr.sql(DIALECT)} AS {ident}")
        else:
            cols.append(ident)
    files = ", ".join(_quote(f.url) for f in ds.files)
    sql = f"SELECT {', '.join(cols)} FROM read_parquet([{files}], hive_partitioning = false)"
    filters = [_policy_expression(f, ds, "row filter").sql(DIALECT) for f in obligations.row_filters.get(ds.id, ())]
    if filters:
        sql += " WHERE " + " AND ".join(f"({f})" for f in filters)
    return sql


@dataclass(frozen=True)
class _Unit:
    label: str  # the unit key's name (person_id, employer_id)
    expr: exp.Expr  # the unit's value in the scope that uses it
    nullable: bool  # from the right side of a LEFT JOIN: NULL where nothing matched


def _left_joined(select: exp.Select) -> set[str]:
    return {j.this.alias_or_name for j in select.args.get("joins") or [] if j.side.upper() == "LEFT"}


class _Units:
    """Threads each dataset's unit key up to the result, through derived tables."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.exposed: dict[int, list[tuple[str, str, bool]]] = {}
        self.counter = 0

    def at(self, scope: Scope) -> list[_Unit]:
        out: list[_Unit] = []
        nullable = _left_joined(scope.expression) if isinstance(scope.expression, exp.Select) else set()
        for alias, (_, source) in scope.selected_sources.items():
            if isinstance(source, exp.Table):
                ds = self.catalog.get(f"{source.text('db')}.{source.name}")
                out.append(_Unit(ds.unit_key, exp.column(ds.unit_key, table=alias, quoted=True), alias in nullable))
            else:
                out.extend(
                    _Unit(label, exp.column(name, table=alias, quoted=True), inner or alias in nullable)
                    for label, name, inner in self.expose(source)
                )
        return out

    def expose(self, scope: Scope) -> list[tuple[str, str, bool]]:
        if id(scope) in self.exposed:
            return self.exposed[id(scope)]
        expr = scope.expression
        if isinstance(expr, exp.Union):
            if expr.args.get("distinct"):
                raise self._refuse(
                    expr, "UNION (without ALL) in a subquery hides the people behind each row; use UNION ALL"
                )
            branches = [self.expose(b) for b in scope.set_operation_scopes]
            labels = [[label for label, _, _ in b] for b in branches]
            if any(lab != labels[0] for lab in labels):
                raise self._refuse(
                    expr,
                    "The branches of this UNION ALL draw on different kinds or numbers of units "
                    "(people, businesses); disclosure control cannot count them together",
                )
            # UNION ALL is positional: each branch appends its units in the same order, after the same
            # number of columns, so the first branch's names name them all.
            result = [(label, name, any(b[i][2] for b in branches)) for i, (label, name, _) in enumerate(branches[0])]
        else:
            if expr.args.get("group") or any(True for p in expr.expressions for _ in p.find_all(exp.AggFunc)):
                raise self._refuse(
                    expr,
                    "Disclosure control counts the people behind each cell and cannot through "
                    "an aggregated subquery; aggregate once, in the outermost query",
                )
            units = self.at(scope)
            if expr.args.get("distinct"):
                projected = {p.unalias().sql(DIALECT) for p in expr.expressions}
                missing = [u.label for u in units if u.expr.sql(DIALECT) not in projected]
                if missing:
                    raise self._refuse(
                        expr,
                        "SELECT DISTINCT in a subquery merges rows of different people; include "
                        f"the unit key ({', '.join(sorted(set(missing)))}) in its columns so each person "
                        "keeps their own rows",
                    )
            result = []
            for unit in units:
                name = f"{_UNIT_PREFIX}{self.counter}"
                self.counter += 1
                assert isinstance(expr, exp.Select)  # a UNION was handled above
                expr.select(exp.alias_(unit.expr, name, quoted=True), append=True, copy=False)
                result.append((unit.label, name, unit.nullable))
        self.exposed[id(scope)] = result
        return result

    @staticmethod
    def _refuse(node: exp.Expr, message: str) -> NotAllowed:
        pos = position(node)
        where = f" (line {pos[0]}, column {pos[1]})" if pos else ""
        return NotAllowed(message + where + ".", rule="untraceable_units", position=pos)


def _units(unit: _Unit, when: exp.Expr | None = None, *, empty_is_small: bool = False) -> exp.Expr:
    """count(DISTINCT unit) (over the rows where ``when`` holds); NULL instead of 0 where 0 means
    "no one from this dataset" (a LEFT JOIN side), so disclosure control skips it rather than
    counting it as a small cell. A part of a partition that the data can empty (``empty_is_small``)
    keeps its 0, so the row is treated alike whether the part is empty or small."""
    value = unit.expr.copy() if when is None else exp.Case(ifs=[exp.If(this=when, true=unit.expr.copy())])
    count: exp.Expr = exp.Count(this=exp.Distinct(expressions=[value]))
    if unit.nullable or (when is not None and not empty_is_small):
        count = exp.Nullif(this=count, expression=exp.Literal.number(0))
    return count


_PLAIN = (exp.Column, exp.Literal, exp.Identifier, exp.Add, exp.Sub, exp.Mul, exp.Neg, exp.Paren)


def _plain_over_tables(arg: exp.Expr | None, select: exp.Select, depth: int = 0) -> bool:
    """An argument that is NULL only where a catalogue column is: columns of datasets (read directly,
    or passed up unchanged by derived tables and CTEs; not from a LEFT JOIN's optional side) combined
    by + - *. Its NULL part is a fact about the data as stored, not one an analyst can aim
    (``CASE WHEN la = 'X' AND pay > y THEN NULL ELSE pay END``)."""
    if arg is None or depth > 12:
        return False
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0]
    if not all(isinstance(n, _PLAIN) for n in arg.walk()):
        return False
    nullable = _left_joined(select)
    sources = {
        s.alias_or_name: s
        for s in [
            select.args.get("from_") and select.args["from_"].this,
            *[j.this for j in select.args.get("joins") or []],
        ]
        if s is not None
    }
    for col in arg.find_all(exp.Column):
        source = sources.get(col.table)
        if source is None or col.table in nullable:
            return False
        if isinstance(source, exp.Table) and source.text("db"):
            continue  # a catalogue dataset
        inner = source.this if isinstance(source, exp.Subquery) else _cte(select, source.name)
        if not _passes_up(inner, col.name, depth + 1):
            return False
    return True


def _cte(select: exp.Expr, name: str) -> exp.Expr | None:
    """The query of CTE ``name`` visible from ``select``."""
    node: exp.Expr | None = select
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with")
        for cte in with_.expressions if with_ is not None else ():
            if cte.alias_or_name == name:
                return cte.this
        node = node.parent
    return None


def _passes_up(query: exp.Expr | None, name: str, depth: int) -> bool:
    """The derived table's column ``name`` is a plain expression over stored columns, in every branch."""
    if isinstance(query, exp.Union):
        return _passes_up(query.this, name, depth) and _passes_up(query.expression, name, depth)
    if not isinstance(query, exp.Select):
        return False
    for proj in query.expressions:
        if proj.alias_or_name == name:
            return _plain_over_tables(proj.unalias(), query, depth)
    return False


def _null_only_as_stored(arg: exp.Expr | None, select: exp.Select) -> bool:
    """The argument is NULL only where a stored column is: a plain expression, or a CASE / IF with an
    ELSE whose every branch value is one (``CASE WHEN sex = 'F' THEN 1 ELSE 0 END`` is never NULL)."""
    if arg is None:
        return False
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0]
    if isinstance(arg, (exp.Case, exp.If)):
        values = branch_values(arg)
        return values[-1] is not None and all(
            v is not None and not isinstance(v, exp.Null) and _plain_over_tables(v, select) for v in values
        )
    return _plain_over_tables(arg, select)


def _never_used_parts(arg: exp.Expr | None) -> set[int]:
    """Parts no row can fall in: a branch whose value is NULL (or a CASE without ELSE) sends its rows
    to part 0 (the argument is NULL), so its own part is empty whatever the data."""
    if isinstance(arg, exp.Distinct):
        arg = arg.expressions[0]
    found = branching(arg) if arg is not None else []
    if not found:
        return set()
    return {k + 1 for k, v in enumerate(branch_values(found[0])) if v is None or isinstance(v, exp.Null)}


def _companions(select: exp.Select, units: list[_Unit]) -> list[tuple[str, exp.Expr, set[int]]]:
    """Unit counts for a result row, each with the output columns it bears on: per dataset (all
    columns), then per part of each aggregate's partition (the columns holding that aggregate).

    A part the data could leave empty counts 0 units, not "absent": otherwise
    ``sum(CASE WHEN la = 'X' AND pay > y THEN 1 ELSE 0 END)`` would show its row when no one in X
    earns more than y (an empty part) and withhold it when one or two do (a small part)."""
    everything = set(range(len(select.expressions)))
    out = [(u.label, _units(u), everything) for u in units]
    seen: dict[str, list[tuple[str, exp.Expr, set[int]]]] = {}
    for j, proj in enumerate(select.expressions):
        for agg in proj.find_all(exp.AggFunc):
            part = partition(agg)
            if part is None:
                continue
            key = part.part.sql(DIALECT)
            if key not in seen:
                seen[key] = []
                plain = _null_only_as_stored(agg.this, select)
                never = _never_used_parts(agg.this)
                for k in range(part.parts):
                    if k in never:
                        continue
                    when = exp.EQ(this=exp.paren(part.part.copy(), copy=False), expression=exp.Literal.number(k))
                    # part 0 holds the rows whose argument is NULL: empty as a rule for a plain column
                    aimable = not (k == 0 and plain)
                    seen[key].extend(
                        (f"{u.label} in part {k} of {agg.sql(DIALECT)}", _units(u, when, empty_is_small=aimable), set())
                        for u in units
                    )
                out.extend(seen[key])
            for _, _, columns in seen[key]:
                columns.add(j)
    return out


def _definition(select: exp.Expr, root: exp.Expr) -> str:
    """A hash of what selects a SELECT's units, whatever it computes from them and however it names
    things: its aggregates, ORDER BY, LIMIT, HAVING and output names left out, its tables and derived
    tables renamed in order of appearance, and the query's CTEs (a UNION ALL branch's live on the
    union) included."""
    shape = select
    saved: dict[str, object] = {}
    if isinstance(shape, exp.Select):  # the parts left out are set aside while the text is made, then put back
        keys = sorted(
            {
                p.unalias().sql(DIALECT, copy=False)
                for p in shape.expressions
                if not any(True for _ in p.find_all(exp.AggFunc))
            }
        )
        for clause in ("expressions", "order", "limit", "having"):
            saved[clause] = shape.args.get(clause)
            shape.set(clause, None)
        shape.set("expressions", [exp.Literal.string(k) for k in keys] or [exp.Literal.number(1)])
    with_ = root.args.get("with_") if root is not select else None
    names: dict[str, str] = {}
    try:
        text = shape.sql(DIALECT, copy=False) + ("|" + with_.sql(DIALECT, copy=False) if with_ is not None else "")
        for node in (shape, *([with_] if with_ is not None else [])):
            for source in node.find_all(exp.Table, exp.Subquery, exp.CTE):
                alias = source.alias_or_name
                if alias and alias not in names:
                    names[alias] = f"s{len(names)}"
    finally:
        for clause, value in saved.items():
            shape.set(clause, value)
    for alias, canonical in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f'"{alias}".', f'"{canonical}".').replace(f'AS "{alias}"', f'AS "{canonical}"')
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _select(scope: Scope) -> exp.Select:
    assert isinstance(scope.expression, exp.Select)  # the result's scopes are SELECTs (a UNION's branches)
    return scope.expression


def _output_names(description: Description) -> list[str]:
    """Readable, unique names for the result columns, from the analyst's own text."""
    original = description.resolved.parsed.tree
    first = original
    while isinstance(first, exp.Union):
        first = first.this
    names: list[str] = []
    analysed = description.output_scopes[0].expression.expressions
    for i, proj in enumerate(analysed):
        name = proj.alias_or_name
        if name.startswith("_col_") and isinstance(first, exp.Select) and i < len(first.expressions):
            name = first.expressions[i].sql(DIALECT).lower()
        base, n = name, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def _rename_order(tree: exp.Expr, renamed: dict[str, str]) -> None:
    order = tree.args.get("order")
    if order is None:
        return
    for col in order.find_all(exp.Column):
        if not col.table and col.name in renamed:
            col.set("this", exp.to_identifier(renamed[col.name], quoted=True))


_WHOLE = exp.DataType.INTEGER_TYPES | {exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL}
_TEMPORAL = exp.DataType.TEMPORAL_TYPES


def _never_fails_on_data(tree: exp.Expr) -> None:
    """Casts that would fail on a row's value return NULL instead (TRY_CAST), and whole-number or
    decimal arithmetic runs in floating point, so it cannot overflow: whether a query fails must not
    depend on the data, or the failure itself would answer a question about a person."""
    for cast in list(tree.find_all(exp.Cast)):
        if type(cast) is exp.Cast:
            cast.replace(exp.TryCast(this=cast.this, to=cast.to))
    nodes = list(tree.find_all(exp.Add, exp.Sub, exp.Mul, exp.Neg, exp.Abs, exp.IntDiv))
    for node in reversed(nodes):  # innermost first, so outer copies carry the inner casts
        kind = node.type.this if node.type is not None else None
        operands: list[exp.Expr] = [o for o in (node.args.get("this"), node.args.get("expression")) if o is not None]
        if kind in _WHOLE and not any(o.type is not None and o.type.this in _TEMPORAL for o in operands):
            for operand in operands:
                operand.replace(exp.TryCast(this=operand.copy(), to=exp.DataType.build("DOUBLE")))


def _prune_leaves(tree: exp.Expr, leaves: list[tuple[str, exp.Expr]]) -> None:
    """Each leaf selects only the columns the query reads from it (the unit key always).

    DuckDB prunes a leaf's unused columns itself; an engine that reads through a data source given
    a fixed schema (Spark) fetches what the leaf names, so the SQL names only what is read. Kept
    whole where a ``*`` could read every column."""
    inside = {id(col) for _, leaf in leaves for col in leaf.find_all(exp.Column)}  # the leaves' own names
    used: dict[str, set[str]] = {}
    loose: set[str] = set()  # unqualified names (USING, a name only one source has): kept wherever they may be
    for col in tree.find_all(exp.Column):
        if id(col) not in inside:
            (used.setdefault(col.table, set()) if col.table else loose).add(col.name)
    for alias, leaf in leaves:
        reader = leaf.parent.find_ancestor(exp.Select) if leaf.parent is not None else None  # whose FROM/JOIN it is
        if isinstance(reader, exp.Select) and any(
            isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
            for p in reader.expressions
        ):
            continue  # a * reads every column
        wanted = used.get(alias, set()) | loose
        kept = [p for p in leaf.expressions if p.alias_or_name in wanted]
        leaf.set("expressions", kept or leaf.expressions[:1])


def rewrite(
    description: Description,
    catalog: Catalog,
    obligations: Obligations,
    *,
    max_rows: int | None = None,
    depth: int = DEFAULT_DEPTH,
    keyed: bool = False,
    min_units: int = 0,
    engine: str = "duckdb",
) -> Plan:
    """The SQL to run: obligations applied, companions added, generated from the tree.

    With ``max_rows``, at most ``max_rows + 1`` rows come back, enough for disclosure control to
    see that a result is too large without the engine materialising all of it. ``depth`` is how many
    of the largest per-unit contributions each magnitude cell brings back (at least dominance's n).
    ``keyed`` (noise mode): the SQL computes each aggregate's cell key from record keys under the
    secret bound as ``$trust_key`` at run time (``Plan.keyed``), and returns only rows of at least
    ``min_units`` units; the analyst's HAVING, and a LIMIT after it, are applied to published values.
    ``engine``: whose SQL to write (``trust.sql.dialects``); the same tree, the same values on each.
    """
    # A new tree: the description (and the tree it analysed) stays exactly as checked.
    tree = description.resolved.tree.copy()
    root = build_scope(tree)
    assert root is not None  # the tree was scoped once already, by resolve
    scopes = output_scopes(root)
    selects = [_select(scope) for scope in scopes]
    definitions = tuple(_definition(select, tree) for select in selects)
    units = _Units(catalog)
    scope_units = [units.at(scope) for scope in scopes]
    companions = [_companions(select, u) for select, u in zip(selects, scope_units)]
    width = max(len(c) for c in companions)
    if not any(companions):
        raise NotAllowed("The query reads no dataset; there is nothing to protect or return.", rule="no_dataset")
    columns = [f"{UNITS_PREFIX}{i}" for i in range(width)]
    labels = [label for label, _, _ in companions[0]] + [""] * (width - len(companions[0]))
    cells: list[set[str]] = [set() for _ in selects[0].expressions]
    names = _output_names(description)
    renamed: dict[str, str] = {}
    for branch, (select, comp) in enumerate(zip(selects, companions)):
        if branch == 0:
            for proj, name in zip(select.expressions, names):
                if proj.alias_or_name != name:
                    renamed[proj.alias_or_name] = name
                proj.replace(exp.alias_(proj.unalias() if isinstance(proj, exp.Alias) else proj, name, quoted=True))
        for i in range(width):
            value = comp[i][1] if i < len(comp) else exp.cast(exp.null(), "BIGINT")
            if i < len(comp):
                for j in comp[i][2]:
                    cells[j].add(columns[i])
            select.select(exp.alias_(value, columns[i], quoted=True), append=True, copy=False)
    _rename_order(tree, renamed)
    _never_fails_on_data(tree)
    sdc = add_companions(
        selects,
        description.shape.outputs,
        [[(u.label, u.expr) for u in us] for us in scope_units],
        depth=depth,
        keyed=keyed,
        min_units=min_units,
    )
    if sdc.publication is not None and sdc.publication.having is not None and tree.args.get("limit") is not None:
        # HAVING now runs on published values, after the engine: so must the LIMIT that follows it.
        analysts_limit = int(tree.args["limit"].expression.name)
        tree.set("limit", None)
        sdc = dataclasses.replace(sdc, publication=dataclasses.replace(sdc.publication, limit=analysts_limit))
    leaves: list[tuple[str, exp.Expr]] = []
    for table in list(tree.find_all(exp.Table)):
        if not table.text("db"):
            continue
        ds = catalog.get(f"{table.text('db')}.{table.name}")
        leaf = _parsed_leaf(leaf_sql(ds, obligations)).copy()
        leaves.append((table.alias_or_name, leaf))
        table.replace(
            exp.Subquery(this=leaf, alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name, quoted=True)))
        )
    if engine != "duckdb":
        _prune_leaves(tree, leaves)
    if max_rows is not None:
        limit = tree.args.get("limit")
        current = int(limit.expression.name) if limit is not None else None
        if current is None or current > max_rows + 1:
            tree.set("limit", exp.Limit(expression=exp.Literal.number(max_rows + 1)))
    outputs = tuple(
        OutputColumn(name=n, kind=o.kind, function=o.function, lineage=o.lineage)
        for n, o in zip(names, description.shape.outputs)
    )
    return Plan(
        sql=generate(tree, engine),  # the tree is this function's own copy
        outputs=outputs,
        unit_columns=tuple(columns),
        unit_labels=tuple(labels),
        datasets=description.resolved.datasets,
        cell_units=tuple(tuple(c for c in columns if c in cell) for cell in cells),
        companions=sdc,
        definitions=definitions,
        keyed=keyed,
    )


def no_obligations() -> Obligations:
    return Obligations(row_filters={}, column_masks={})


def obligations_from(
    row_filters: Sequence[Mapping[str, str]], column_masks: Sequence[Mapping[str, str]]
) -> Obligations:
    filters: dict[str, tuple[str, ...]] = {}
    for f in row_filters:
        filters[f["dataset"]] = filters.get(f["dataset"], ()) + (f["expression"],)
    masks: dict[str, dict[str, str]] = {}
    for m in column_masks:
        masks.setdefault(m["dataset"], {})[m["column"]] = m["expression"]
    return Obligations(row_filters=filters, column_masks=masks)
