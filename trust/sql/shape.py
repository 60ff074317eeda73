"""The frozen values the SQL stages hand each other and the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ColumnUse:
    dataset: str
    column: str
    role: str
    used_in: tuple[str, ...]  # output, group_by, filter, join, aggregate, order
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class AggregateUse:
    function: str
    dataset: str | None
    column: str | None
    distinct: bool = False


@dataclass(frozen=True)
class JoinUse:
    left: str
    right: str
    kind: str = "inner"


@dataclass(frozen=True)
class OutputColumn:
    name: str
    kind: str  # group_key | aggregate
    function: str | None = None  # for aggregates: count, sum, avg, ...
    lineage: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableUse:
    dataset: str
    department: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueryShape:
    """What a query does, in the terms policy reasons about (DESIGN section 6, ``input.query``)."""

    tables: tuple[TableUse, ...]
    columns: tuple[ColumnUse, ...]
    aggregates: tuple[AggregateUse, ...]
    joins: tuple[JoinUse, ...]
    outputs: tuple[OutputColumn, ...]
    aggregated_output: bool
    set_operations: int = 0
    subqueries: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    def to_policy_input(self) -> dict[str, Any]:
        return {
            "tables": [{"dataset": t.dataset, "department": t.department, "flags": list(t.flags)} for t in self.tables],
            "columns": [
                {
                    "dataset": c.dataset,
                    "column": c.column,
                    "role": c.role,
                    "used_in": list(c.used_in),
                    "flags": list(c.flags),
                }
                for c in self.columns
            ],
            "aggregates": [
                {"function": a.function, "dataset": a.dataset, "column": a.column, "distinct": a.distinct}
                for a in self.aggregates
            ],
            "joins": [{"left": j.left, "right": j.right, "kind": j.kind} for j in self.joins],
            "outputs": [
                {"name": o.name, "kind": o.kind, "function": o.function, "lineage": list(o.lineage)}
                for o in self.outputs
            ],
            "aggregated_output": self.aggregated_output,
            "set_operations": self.set_operations,
            "subqueries": self.subqueries,
        }
