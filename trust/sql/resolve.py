"""Stage 3: every table is a catalogue dataset, every column is traced to (dataset, column).

sqlglot's optimizer qualifies the tree against the catalogue schema (expanding ``*``, turning
``USING`` into ``ON``, resolving aliases), unused columns are pruned from derived tables, and
each column reference is then traced through CTEs, subqueries and set operations to the
catalogue columns it is made from: its lineage.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from trust.catalog.model import Catalog, Role
from trust.errors import NotAllowed, UnknownName, did_you_mean
from trust.sql.grouping import expand
from trust.sql.parse import DIALECT, Parsed
from trust.sql.refusals import position


@dataclass(frozen=True, order=True)
class ColumnRef:
    dataset: str
    column: str
    role: Role

    @property
    def qualified(self) -> str:
        return f"{self.dataset}.{self.column}"


@dataclass(frozen=True)
class Resolved:
    parsed: Parsed
    tree: exp.Query  # qualified and pruned; owned by the pipeline from here on
    scopes: tuple[Scope, ...]  # innermost first; the last is the root
    lineage: Mapping[int, Lineage]  # id(Column node) -> catalogue columns it is made from
    datasets: tuple[str, ...]

    @property
    def root(self) -> Scope:
        return self.scopes[-1]


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _check_tables(tree: exp.Expr, catalog: Catalog) -> None:
    ctes = _cte_names(tree)
    dataset_tables = {d.table_name for d in catalog}
    for cte in tree.find_all(exp.CTE):
        if cte.alias_or_name.lower() in dataset_tables:
            pos = position(cte)
            raise NotAllowed(
                f"The CTE name {cte.alias_or_name!r} is also the name of a dataset; two readings of the query would "
                f"be possible. Give the CTE another name{f' (line {pos[0]}, column {pos[1]})' if pos else ''}.",
                rule="cte_shadows_dataset",
                construct=cte.alias_or_name,
                position=pos,
            )
    for table in tree.find_all(exp.Table):
        name, db = table.name.lower(), table.text("db").lower()
        pos = position(table)
        if not db:
            if name in ctes:
                continue
            hint = _dataset_hint(name, catalog)
            raise UnknownName(
                f"{table.name!r} is not a dataset or a CTE. Name datasets as department.dataset "
                f"(e.g. dwp.uc_claims).{hint} Run `trust catalog list` to see them.",
                rule="unknown_dataset",
                dataset=table.name,
                position=pos,
            )
        try:
            catalog.get(f"{db}.{name}")
        except UnknownName as exc:
            raise UnknownName(exc.message, rule="unknown_dataset", dataset=f"{db}.{name}", position=pos) from None


def _dataset_hint(name: str, catalog: Catalog) -> str:
    """' Did you mean 'dwp.uc_claims'?' for a table named without its department: the full id of the
    closest dataset, never the bare name that was just refused."""
    ids: dict[str, str] = {}
    for d in sorted(catalog, key=lambda d: d.id):
        ids.setdefault(d.table_name, d.id)
    close = difflib.get_close_matches(name.lower(), list(ids), n=1, cutoff=0.6)
    return f" Did you mean {ids[close[0]]!r}?" if close else ""


def _column_hint(tree: exp.Expr, name: str, catalog: Catalog) -> str:
    """' Did you mean …?' for an unknown column, from what the query it stands in can read: the columns
    of its datasets, CTEs and subqueries (of one alias alone for ``alias.column``). Never a column of a
    dataset the query does not read, nor a direct identifier, which could not be used anywhere."""
    try:
        scopes = traverse_scope(tree)
    except Exception:  # a tree sqlglot cannot scope: no hint rather than a wrong one
        return ""
    wanted = name.lower()
    seen: list[str] = []
    for scope in scopes:
        tables = {c.table.lower() for c in scope.columns if c.name.lower() == wanted}
        if not tables:
            continue
        sources = {alias.lower(): source for alias, source in scope.sources.items()}
        unknown = sorted(t for t in tables if t and t not in sources)
        if unknown:
            return f" {unknown[0]!r} is not a table or alias of this query.{did_you_mean(unknown[0], sources)}"
        for alias, source in sources.items():
            if "" in tables or alias in tables:
                seen += _visible_columns(source, catalog)
    return did_you_mean(name, [c for c in dict.fromkeys(seen) if c.lower() != wanted])


def _visible_columns(source: exp.Table | Scope, catalog: Catalog) -> list[str]:
    if isinstance(source, Scope):
        query = source.expression
        return [n for n in query.named_selects if n != "*"] if isinstance(query, exp.Query) else []
    if not source.text("db"):
        return []
    try:
        ds = catalog.get(f"{source.text('db')}.{source.name}")
    except UnknownName:
        return []
    return [c.name for c in ds.columns if c.role is not Role.DIRECT_IDENTIFIER]


def _check_direct_identifiers(tree: exp.Expr, catalog: Catalog) -> None:
    """A direct identifier named anywhere in the text is refused, even where the query never uses it
    (an unused projection would be pruned before it ran, but the trust does not accept it at all)."""
    datasets = [catalog.get(f"{t.text('db')}.{t.name}") for t in tree.find_all(exp.Table) if t.text("db")]
    identifiers = {c.name: ds for ds in datasets for c in ds.columns if c.role is Role.DIRECT_IDENTIFIER}
    for col in tree.find_all(exp.Column):
        ds = identifiers.get(col.name.lower())
        if ds is not None:
            pos = position(col)
            where = f" (line {pos[0]}, column {pos[1]})" if pos else ""
            raise NotAllowed(
                f"{ds.id}.{col.name.lower()} is a direct identifier and cannot be used anywhere in a query. "
                f"Remove it; link datasets on their linkage key instead{where}.",
                rule="direct_identifier",
                construct=col.sql("duckdb"),
                position=pos,
            )


def _expand_group_by_all(tree: exp.Expr) -> None:
    """GROUP BY ALL groups by every projection that is not an aggregate (DuckDB's meaning)."""
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None or not group.args.get("all"):
            continue
        keys = [p.unalias().copy() for p in select.expressions if p.find(exp.AggFunc) is None]
        select.set("group", exp.Group(expressions=keys) if keys else None)


_Columns = tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]


def _schema(catalog: Catalog) -> MappingSchema:
    """The catalogue as sqlglot's schema, built once per distinct set of tables, columns and types
    (building it normalises every name of every dataset: most of what qualifying a query cost)."""
    mapping = catalog.schema_mapping()
    return _schema_for(
        tuple(
            (db, t, tuple(cols.items())) for db, tables in sorted(mapping.items()) for t, cols in sorted(tables.items())
        )
    )


@functools.lru_cache(maxsize=8)
def _schema_for(columns: _Columns) -> MappingSchema:
    mapping: dict[str, object] = {}
    for db, table, cols in columns:
        tables = mapping.setdefault(db, {})
        assert isinstance(tables, dict)
        tables[table] = dict(cols)
    return MappingSchema(mapping, dialect=DIALECT)


def _qualify(parsed: Parsed, catalog: Catalog) -> exp.Query:
    schema = _schema(catalog)
    tree = parsed.tree.copy()
    for node in tree.walk():
        node.comments = None  # the analyst's comments never reach the generated SQL (nor comparisons)
    try:
        tree = qualify(
            tree,
            schema=schema,
            dialect=DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
        _expand_group_by_all(tree)
        tree = pushdown_projections(tree)
        # Types of every node, for the checks that keep engine errors from depending on data.
        return annotate_types(tree, schema=schema, dialect=DIALECT)
    except OptimizeError as exc:
        text = str(exc)
        if "could not be resolved" in text or text.startswith("Unknown column"):
            col = text.split("'")[1] if "'" in text else text.split(": ")[-1].split(".")[0].strip()
            raise UnknownName(
                f"Column {col!r} is unknown or ambiguous here.{_column_hint(parsed.tree, col, catalog)} "
                "Qualify it with its table alias and check `trust catalog show DATASET`.",
                rule="unknown_column",
                column=col,
            ) from None
        raise NotAllowed(
            f"The query's names could not be resolved ({text.split('. Line')[0]}). "
            "Check table aliases and column names.",
            rule="unresolved",
        ) from None
    except RecursionError:
        raise NotAllowed(
            "The query is nested too deeply to analyse; simplify it with CTEs.", rule="nesting_too_deep"
        ) from None


PREDICATES = (exp.Predicate, exp.Not, exp.And, exp.Or, exp.Like, exp.ILike, exp.In, exp.Between, exp.Is)


def flows(node: exp.Expr, root: exp.Expr) -> bool:
    """Whether ``node``'s value reaches ``root``'s value (not only a predicate or a CASE condition)."""
    child, parent = node, node.parent
    while child is not root and parent is not None:
        if isinstance(parent, PREDICATES):
            return False
        if isinstance(parent, exp.If) and child.arg_key == "this":
            return False
        child, parent = parent, parent.parent
    return True


PLAIN_CASTS = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}


def _constant(node: exp.Expr) -> bool:
    return node.find(exp.Column) is None and is_plain(node)


def _bare(node: exp.Expr) -> bool:
    return bare_column(node) is not None


def is_plain(node: exp.Expr) -> bool:
    """An affine combination of columns: + and -, times or divided by a number, or divided by a bare
    column (a ratio such as tax_paid / gross_pay), with casts to floating point. No branch, no step
    (floor, round, casts to whole numbers), no predicate, no product of two columns.

    A plain value treats every row by the same rule, so an aggregate over it cannot weight a few
    rows of a large group up and the rest down to nothing.

    >>> import sqlglot
    >>> [is_plain(sqlglot.parse_one(s)) for s in ("a * 12 - b / 2", "a / b", "a * b", "floor(a)", "a / (b - 3)")]
    [True, True, False, False, False]
    """
    if isinstance(node, (exp.Column, exp.Literal, exp.Null)):
        return True
    if isinstance(node, (exp.Paren, exp.Neg, exp.Alias)):
        return is_plain(node.this)
    if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
        return node.to.this in PLAIN_CASTS and is_plain(node.this)
    if isinstance(node, (exp.Add, exp.Sub)):
        return is_plain(node.this) and is_plain(node.expression)
    if isinstance(node, exp.Mul):
        return (
            is_plain(node.this) and is_plain(node.expression) and (_constant(node.this) or _constant(node.expression))
        )
    if isinstance(node, exp.Div):
        return is_plain(node.this) and (_constant(node.expression) or _bare(node.expression))
    return False


def bare_column(node: exp.Expr) -> exp.Column | None:
    """The column under parentheses and floating-point casts, if that is all ``node`` is."""
    while isinstance(node, (exp.Paren, exp.Cast, exp.Alias)) and not isinstance(node, exp.TryCast):
        if isinstance(node, exp.Cast) and node.to.this not in PLAIN_CASTS:
            return None
        node = node.this
    return node if isinstance(node, exp.Column) else None


@dataclass(frozen=True)
class Lineage:
    """The catalogue columns a value is made from (``all``), those whose values flow into it, and
    whether it went through anything but plain arithmetic on the way (``shaped``: a CASE, a step
    such as floor(), a predicate), which matters when it is aggregated."""

    all: frozenset[ColumnRef]
    values: frozenset[ColumnRef]
    shaped: bool = False
    derived: bool = False  # computed by a subquery, not a catalogue column passed through

    def __or__(self, other: Lineage) -> Lineage:
        return Lineage(
            self.all | other.all, self.values | other.values, self.shaped or other.shaped, self.derived or other.derived
        )


EMPTY = Lineage(frozenset(), frozenset())


class _Tracer:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.memo: dict[tuple[int, str], Lineage] = {}

    def column(self, scope: Scope, col: exp.Column) -> Lineage:
        source = scope.sources.get(col.table)
        if isinstance(source, exp.Table):
            ds = self.catalog.get(f"{source.text('db')}.{source.name}")
            c = ds.column(col.name)
            ref = frozenset({ColumnRef(ds.id, c.name, c.role)})
            return Lineage(ref, ref)
        if isinstance(source, Scope):
            return self.projection(source, col.name)
        if not col.table and isinstance(scope.expression, exp.Select):
            for proj in scope.expression.expressions:
                if proj.alias_or_name == col.name:
                    return self.expression(scope, proj)
        if not col.table and isinstance(scope.expression, exp.Union):
            return self.projection(scope, col.name)  # ORDER BY on a UNION names its output columns
        raise UnknownName(
            f"Column {col.sql()} could not be traced to a dataset. Qualify it with its table alias.",
            rule="unknown_column",
            column=col.name,
        )

    def expression(self, scope: Scope, node: exp.Expr) -> Lineage:
        out = Lineage(frozenset(), frozenset(), not is_plain(node), bare_column(node) is None)
        for col in node.find_all(exp.Column):
            lin = self.column(scope, col)
            out = out | (lin if flows(col, node) else Lineage(lin.all, frozenset()))
            if isinstance(col.parent, exp.Div) and col.arg_key == "expression" and lin.derived:
                out = Lineage(out.all, out.values, True, True)  # a ratio over a computed denominator
        return out

    def projection(self, scope: Scope, name: str) -> Lineage:
        key = (id(scope), name)
        if key not in self.memo:
            expr = scope.expression
            if isinstance(expr, exp.Union):
                names = expr.named_selects
                if name not in names:
                    raise UnknownName(
                        f"Column {name!r} is not an output of the UNION.", rule="unknown_column", column=name
                    )
                self.memo[key] = self.position(scope, names.index(name))
            else:
                matches = [p for p in expr.expressions if p.alias_or_name == name]
                if not matches:
                    raise UnknownName(
                        f"Column {name!r} is not an output of the subquery.", rule="unknown_column", column=name
                    )
                self.memo[key] = self.expression(scope, matches[0])
        return self.memo[key]

    def position(self, scope: Scope, index: int) -> Lineage:
        if isinstance(scope.expression, exp.Union):
            out = EMPTY
            for branch in scope.set_operation_scopes:
                out = out | self.position(branch, index)
            return out
        return self.expression(scope, scope.expression.expressions[index])


def resolve(parsed: Parsed, catalog: Catalog) -> Resolved:
    """Qualify the tree against ``catalog`` and trace every column to its catalogue columns.

    ROLLUP, CUBE and GROUPING SETS are first spelled out as a UNION ALL of plain GROUP BYs, so every
    later stage sees that tree; ``Resolved.parsed`` stays the analyst's own.
    """
    expanded = expand(parsed)
    _check_tables(expanded.tree, catalog)
    _check_direct_identifiers(expanded.tree, catalog)
    tree = _qualify(expanded, catalog)
    scopes = tuple(traverse_scope(tree))
    tracer = _Tracer(catalog)
    lineage: dict[int, Lineage] = {}
    for scope in scopes:
        for col in scope.columns:
            lineage[id(col)] = tracer.column(scope, col)
    datasets = sorted({catalog.get(f"{t.text('db')}.{t.name}").id for t in tree.find_all(exp.Table) if t.text("db")})
    return Resolved(parsed=parsed, tree=tree, scopes=scopes, lineage=lineage, datasets=tuple(datasets))
