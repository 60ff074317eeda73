"""Structural protections that hold whatever the policy says (DESIGN section 4).

- A direct identifier appears nowhere: not in output, filter, join, group key or function.
- A linkage key appears only as one side of a join equality or as count(DISTINCT key).
- A measure's value reaches the output only through an aggregate.
- The top-level result is aggregated: each output column a group key or an aggregate.
"""

from __future__ import annotations

from sqlglot import exp

from trust.catalog.model import Role
from trust.errors import NotAllowed
from trust.sql.describe import Description, Use
from trust.sql.validate import position


def _reject(use: Use | None, message: str, rule: str, node: exp.Expression | None = None) -> NotAllowed:
    where_node = node if node is not None else use.column if use else None
    pos = position(where_node) if where_node is not None else None
    where = f" (line {pos[0]}, column {pos[1]})" if pos else ""
    return NotAllowed(message.rstrip(".") + where + ".", rule=rule, position=pos,
                      construct=use.column.sql() if use else None)


def _check_use(use: Use, lineage_of) -> None:
    for ref in sorted(use.refs):
        if ref.role is Role.DIRECT_IDENTIFIER:
            raise _reject(use, f"{ref.qualified} is a direct identifier and cannot be used anywhere in a query. "
                          "Remove it; link datasets on their linkage key instead", "direct_identifier")
    if use.pass_through:
        return
    if use.join_key:
        other_node = use.column.parent.expression if use.column.parent.this is use.column else use.column.parent.this
        other = lineage_of(other_node)
        mine = {r.column for r in use.refs if r.role is Role.LINKAGE_KEY}
        theirs = {r.column for r in other if r.role is Role.LINKAGE_KEY}
        if (mine or theirs) and (mine != theirs or len(mine) != 1 or len(other) != len(theirs)):
            raise _reject(use, "A linkage key can only be joined to the same linkage key in another dataset "
                          f"(e.g. person_id = person_id); this joins {sorted(r.qualified for r in use.refs)} to "
                          f"{sorted(r.qualified for r in other)}", "linkage_key_join")
    for ref in sorted(use.refs):
        if ref.role is Role.LINKAGE_KEY and not (use.join_key or use.distinct_arg):
            raise _reject(use, f"{ref.qualified} is a linkage key: use it only to join datasets "
                          "(ON a.key = b.key) or as count(DISTINCT key)", "linkage_key_use")
    if use.aggregate is None and use.context in {"output", "group_by", "order", "projection"}:
        for ref in sorted(use.value_refs):
            if ref.role is Role.MEASURE:
                raise _reject(use, f"{ref.qualified} is a measure: it can be aggregated (sum, avg, count) or "
                              "compared in a filter, but its values cannot be output or grouped on; band it with "
                              "CASE WHEN ... THEN 'label' to group", "measure_not_aggregated")


def _check_output(scope_select: exp.Select) -> None:
    if isinstance(scope_select.args.get("distinct"), exp.Distinct):
        raise _reject(None, "SELECT DISTINCT is not accepted on the result: GROUP BY gives one row per group",
                      "row_level_output", scope_select)
    if not any(True for p in scope_select.expressions for _ in p.find_all(exp.AggFunc)):
        raise _reject(None, "The result must be aggregated: add an aggregate such as count(*) and GROUP BY "
                      "the dimensions you want (row-level results never leave the trust)", "row_level_output",
                      scope_select)


def check_structure(description: Description) -> None:
    """Raise ``NotAllowed`` for the first use that breaks a structural protection."""
    lineage = description.resolved.lineage

    def lineage_of(node: exp.Expression) -> frozenset:
        return lineage[id(node)].all if id(node) in lineage else frozenset()

    for use in description.uses:
        _check_use(use, lineage_of)
    for scope in description.output_scopes:
        _check_output(scope.expression)
    if not description.shape.aggregated_output:
        raise _reject(None, "Every result column must be a GROUP BY key or an aggregate; "
                      "add the column to GROUP BY or aggregate it", "row_level_output",
                      description.output_scopes[0].expression)
