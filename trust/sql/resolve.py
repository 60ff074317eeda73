"""Stage 3: every table is a catalogue dataset, every column is traced to (dataset, column).

sqlglot's optimizer qualifies the tree against the catalogue schema (expanding ``*``, turning
``USING`` into ``ON``, resolving aliases), unused columns are pruned from derived tables, and
each column reference is then traced through CTEs, subqueries and set operations to the
catalogue columns it is made from: its lineage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from trust.catalog.model import Catalog, Role
from trust.errors import NotAllowed, UnknownName, did_you_mean
from trust.sql.parse import DIALECT, Parsed
from trust.sql.validate import position


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


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _check_tables(tree: exp.Expression, catalog: Catalog) -> None:
    ctes = _cte_names(tree)
    for table in tree.find_all(exp.Table):
        name, db = table.name.lower(), table.text("db").lower()
        if not db:
            if name in ctes:
                continue
            hint = did_you_mean(name, [d.table_name for d in catalog])
            pos = position(table)
            raise UnknownName(
                f"{table.name!r} is not a dataset or a CTE. Name datasets as department.dataset "
                f"(e.g. dwp.uc_claims).{hint} Run `trust catalog list` to see them.",
                dataset=table.name,
                position=pos,
            )
        catalog.get(f"{db}.{name}")


def _qualify(parsed: Parsed, catalog: Catalog) -> exp.Query:
    try:
        tree = qualify(
            parsed.tree.copy(),
            schema=catalog.schema_mapping(),
            dialect=DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
        return pushdown_projections(tree)
    except OptimizeError as exc:
        text = str(exc)
        if "could not be resolved" in text:
            col = text.split("'")[1] if "'" in text else "?"
            known = {c.name for d in catalog for c in d.columns}
            raise UnknownName(
                f"Column {col!r} is unknown or ambiguous here.{did_you_mean(col, known)} "
                "Qualify it with its table alias and check `trust catalog show DATASET`.",
                column=col,
            ) from None
        raise NotAllowed(
            f"The query's names could not be resolved ({text.split('. Line')[0]}). "
            "Check table aliases and column names.",
            rule="unresolved",
        ) from None
    except RecursionError:
        raise NotAllowed("The query is nested too deeply to analyse; simplify it with CTEs.", rule="nesting_too_deep") from None


PREDICATES = (exp.Predicate, exp.Not, exp.And, exp.Or, exp.Like, exp.ILike, exp.In, exp.Between, exp.Is)


def flows(node: exp.Expression, root: exp.Expression) -> bool:
    """Whether ``node``'s value reaches ``root``'s value (not only a predicate or a CASE condition)."""
    child, parent = node, node.parent
    while child is not root and parent is not None:
        if isinstance(parent, PREDICATES):
            return False
        if isinstance(parent, exp.If) and child.arg_key == "this":
            return False
        child, parent = parent, parent.parent
    return True


@dataclass(frozen=True)
class Lineage:
    """The catalogue columns a value is made from (``all``), and those whose values flow into it."""

    all: frozenset[ColumnRef]
    values: frozenset[ColumnRef]

    def __or__(self, other: Lineage) -> Lineage:
        return Lineage(self.all | other.all, self.values | other.values)


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
        raise UnknownName(f"Column {col.sql()} could not be traced to a dataset. Qualify it with its table alias.",
                          column=col.name)

    def expression(self, scope: Scope, node: exp.Expression) -> Lineage:
        out = EMPTY
        for col in node.find_all(exp.Column):
            lin = self.column(scope, col)
            out = out | (lin if flows(col, node) else Lineage(lin.all, frozenset()))
        return out

    def projection(self, scope: Scope, name: str) -> Lineage:
        key = (id(scope), name)
        if key not in self.memo:
            expr = scope.expression
            if isinstance(expr, exp.Union):
                names = expr.named_selects
                if name not in names:
                    raise UnknownName(f"Column {name!r} is not an output of the UNION.", column=name)
                self.memo[key] = self.position(scope, names.index(name))
            else:
                matches = [p for p in expr.expressions if p.alias_or_name == name]
                if not matches:
                    raise UnknownName(f"Column {name!r} is not an output of the subquery.", column=name)
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
    """Qualify the tree against ``catalog`` and trace every column to its catalogue columns."""
    _check_tables(parsed.tree, catalog)
    tree = _qualify(parsed, catalog)
    scopes = tuple(traverse_scope(tree))
    tracer = _Tracer(catalog)
    lineage: dict[int, Lineage] = {}
    for scope in scopes:
        for col in scope.columns:
            lineage[id(col)] = tracer.column(scope, col)
    datasets = sorted({
        catalog.get(f"{t.text('db')}.{t.name}").id for t in tree.find_all(exp.Table) if t.text("db")
    })
    return Resolved(parsed=parsed, tree=tree, scopes=scopes, lineage=lineage, datasets=tuple(datasets))
