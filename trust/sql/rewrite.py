"""Stage 6: apply the policy's obligations to the checked tree and add disclosure companions.

- Each catalogue table becomes a leaf subquery over exactly its registered files, projecting
  only registered columns, with column masks in place of the masked columns and the row filters
  in its WHERE. Because every path to the data goes through a leaf, CTEs, subqueries, self-joins
  and unions cannot get around a filter or a mask.
- Each result row gets ``count(DISTINCT unit_key)`` per dataset it draws on, traced through
  derived tables, so disclosure control counts people (or businesses), not rows.
The SQL that runs is generated from this tree, never taken from the analyst's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from trust.catalog.model import Catalog, Dataset
from trust.errors import NotAllowed
from trust.sql.describe import Description
from trust.sql.parse import DIALECT
from trust.sql.shape import OutputColumn
from trust.sql.validate import position

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


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _policy_expression(text: str, ds: Dataset, what: str) -> exp.Expression:
    try:
        node = sqlglot.parse_one(text, read=DIALECT, into=exp.Condition)
    except Exception:
        node = None
    if node is None or any(isinstance(n, (exp.Query, exp.Table, exp.Anonymous)) for n in node.walk()):
        raise NotAllowed(f"The policy's {what} for {ds.id} is not a valid expression; the policy owner must fix it.",
                         rule="policy_expression")
    names = {c.name for c in ds.columns}
    for col in node.find_all(exp.Column):
        if col.name.lower() not in names or col.table:
            raise NotAllowed(f"The policy's {what} for {ds.id} names unknown column {col.sql()!r}; "
                             "the policy owner must fix it.", rule="policy_expression")
    return node


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


class _Units:
    """Threads each dataset's unit key up to the result, through derived tables."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.exposed: dict[int, list[tuple[str, str]]] = {}
        self.counter = 0

    def at(self, scope: Scope) -> list[tuple[str, exp.Expression]]:
        out: list[tuple[str, exp.Expression]] = []
        for alias, (_, source) in scope.selected_sources.items():
            if isinstance(source, exp.Table):
                ds = self.catalog.get(f"{source.text('db')}.{source.name}")
                out.append((ds.unit_key, exp.column(ds.unit_key, table=alias, quoted=True)))
            else:
                out.extend((label, exp.column(name, table=alias, quoted=True)) for label, name in self.expose(source))
        return out

    def expose(self, scope: Scope) -> list[tuple[str, str]]:
        if id(scope) in self.exposed:
            return self.exposed[id(scope)]
        expr = scope.expression
        if isinstance(expr, exp.Union):
            if expr.args.get("distinct"):
                raise self._refuse(expr, "UNION (without ALL) in a subquery hides the people behind each row; use UNION ALL")
            branches = [self.expose(b) for b in scope.set_operation_scopes]
            labels = [[label for label, _ in b] for b in branches]
            if any(lab != labels[0] for lab in labels):
                raise self._refuse(expr, "The branches of this UNION ALL draw on different kinds of units "
                                   "(people and businesses); disclosure control cannot count them together")
            names = [name for _, name in branches[0]]
            for b in branches[1:]:
                if [name for _, name in b] != names:
                    raise self._refuse(expr, "The branches of this UNION ALL cannot be traced to their units")
            result = branches[0]
        else:
            if expr.args.get("group") or expr.args.get("distinct") or any(
                True for p in expr.expressions for _ in p.find_all(exp.AggFunc)
            ):
                raise self._refuse(expr, "Disclosure control counts the people behind each cell and cannot through "
                                   "an aggregated or DISTINCT subquery; aggregate once, in the outermost query")
            result = []
            for label, unit in self.at(scope):
                name = f"{_UNIT_PREFIX}{self.counter}"
                self.counter += 1
                expr.select(exp.alias_(unit, name, quoted=True), append=True, copy=False)
                result.append((label, name))
        self.exposed[id(scope)] = result
        return result

    @staticmethod
    def _refuse(node: exp.Expression, message: str) -> NotAllowed:
        pos = position(node)
        where = f" (line {pos[0]}, column {pos[1]})" if pos else ""
        return NotAllowed(message + where + ".", rule="untraceable_units", position=pos)


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


def rewrite(description: Description, catalog: Catalog, obligations: Obligations) -> Plan:
    """The SQL to run: obligations applied, companions added, generated from the tree."""
    resolved = description.resolved
    units = _Units(catalog)
    companions = [units.at(scope) for scope in description.output_scopes]
    width = max(len(c) for c in companions)
    if width == 0:
        raise NotAllowed("The query reads no dataset; there is nothing to protect or return.", rule="no_dataset")
    labels = [label for label, _ in companions[0]] + [""] * (width - len(companions[0]))
    names = _output_names(description)
    for scope, comp in zip(description.output_scopes, companions):
        select = scope.expression
        if scope is description.output_scopes[0]:
            for proj, name in zip(select.expressions, names):
                proj.replace(exp.alias_(proj.unalias() if isinstance(proj, exp.Alias) else proj, name, quoted=True))
        for i in range(width):
            value: exp.Expression = (
                exp.Count(this=exp.Distinct(expressions=[comp[i][1]])) if i < len(comp) else exp.cast(exp.null(), "BIGINT")
            )
            select.select(exp.alias_(value, f"{UNITS_PREFIX}{i}", quoted=True), append=True, copy=False)
    for table in list(resolved.tree.find_all(exp.Table)):
        if not table.text("db"):
            continue
        ds = catalog.get(f"{table.text('db')}.{table.name}")
        leaf = sqlglot.parse_one(leaf_sql(ds, obligations), read=DIALECT)
        table.replace(exp.Subquery(this=leaf, alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name, quoted=True))))
    outputs = tuple(
        OutputColumn(name=n, kind=o.kind, function=o.function, lineage=o.lineage)
        for n, o in zip(names, description.shape.outputs)
    )
    return Plan(
        sql=resolved.tree.sql(dialect=DIALECT),
        outputs=outputs,
        unit_columns=tuple(f"{UNITS_PREFIX}{i}" for i in range(width)),
        unit_labels=tuple(labels),
        datasets=resolved.datasets,
    )


def no_obligations() -> Obligations:
    return Obligations(row_filters={}, column_masks={})


def obligations_from(row_filters: Sequence[Mapping[str, str]], column_masks: Sequence[Mapping[str, str]]) -> Obligations:
    filters: dict[str, tuple[str, ...]] = {}
    for f in row_filters:
        filters[f["dataset"]] = filters.get(f["dataset"], ()) + (f["expression"],)
    masks: dict[str, dict[str, str]] = {}
    for m in column_masks:
        masks.setdefault(m["dataset"], {})[m["column"]] = m["expression"]
    return Obligations(row_filters=filters, column_masks=masks)
