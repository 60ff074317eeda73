"""Stage 8: disclosure control on the raw result, using the companion statistics.

By default every number is perturbed (``trust.sdc.publish``). Where the policy requires suppression
instead, in order: each aggregate cell is judged on its own (``primary``: zeros, minimum units,
negative contributions, dominance, p%, min/max); cells whose population differs from another
shown cell of the project by a few units are suppressed (``differencing``); complementary
cells are hidden so no suppressed cell can be recovered from totals in the same output
(``linked``, ``secondary``); counts and sums are rounded if the policy asks (``rounding``).

Group-key cells stay visible; each aggregate cell that is not ok is null in the protected
table (shown as ``[c]``) and recorded, with its figures, in the report. Companion columns
never leave this function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trust.errors import DisclosureBlocked
from trust.sdc import differencing as diff
from trust.sdc.cells import CellStats, Finding, Parameters
from trust.sdc.judge import (
    SECONDARY,
    Protected,
    cell_stats,
    figures,
    judge,
    linked_statistics,
    restore_type,
    row_units,
)
from trust.sdc.linked import Cell, Layout, linked
from trust.sdc.plan import Companions, OutputSpec, ProtectionPlan
from trust.sdc.publish import publish
from trust.sdc.report import CellReport, CellStatus, DisclosureReport
from trust.sdc.rounding import rounding
from trust.sdc.secondary import Candidate, secondary
from trust.sdc.sketch import build_many


def _label(keys: Sequence[Any]) -> str:
    return ", ".join("Total" if k is None else str(k) for k in keys) or "all"


def protect(
    raw: pa.Table, plan: ProtectionPlan, params: Parameters, *, max_rows: int, history: diff.History | None = None
) -> Protected:
    """Judge every aggregate cell; return the protected table, the report and the populations to record.

    With noise (the policy's default, and the plan computed its keys) every number is perturbed
    (``trust.sdc.publish``); with suppression instead, the exact numbers are published with primary and
    secondary suppression and differencing across the project's outputs.
    """
    if params.noise is not None and plan.companions is not None and plan.companions.publication is not None:
        return publish(raw, plan, params, max_rows=max_rows)
    if raw.num_rows > max_rows:
        raise DisclosureBlocked(
            f"The result has {raw.num_rows} rows; the limit is {max_rows}. Group by fewer or coarser dimensions.",
            rows=raw.num_rows,
        )
    companions = plan.companions
    outputs = list(plan.outputs)
    n = raw.num_rows
    # Each cell is judged on the smallest unit count of its row: cells of one row are shown together and can
    # be subtracted (count(*) less count(CASE WHEN la <> 'X' THEN 1 END) counts X), so a cell is only as
    # safe as the smallest dataset or part rewrite counted (plan.unit_columns), never just its own part.
    units = row_units(raw, plan.unit_columns)
    key_positions = [i for i, o in enumerate(outputs) if o.kind != "aggregate"]
    agg_positions = [i for i, o in enumerate(outputs) if o.kind == "aggregate"]
    values = {i: raw.column(outputs[i].name).to_pylist() for i in range(len(outputs))}
    keys = [tuple(values[i][r] for i in key_positions) for r in range(n)]
    notes: list[str] = []
    if companions is None:
        notes.append("companion statistics unavailable: only minimum units was applied")
    elif not companions.single_scan:
        notes.append(
            "per-unit contributions could not be computed for part of this query; its magnitude cells went to review"
        )

    findings: dict[Cell, Finding] = {}
    stats: dict[Cell, CellStats] = {}
    for i in agg_positions:
        name = outputs[i].name
        for r, candidates in enumerate(cell_stats(raw, plan, companions, i, values[i], units)):
            found, judged = judge(candidates, params, legacy=companions is None)
            findings[(r, name)], stats[(r, name)] = found, judged

    # The totals and margins this output carries: what adds up to what.
    additive = [i for i in agg_positions if (outputs[i].function or "count") in ("count", "sum")]
    branches = (
        tuple(int(b) for b in raw.column(companions.branch).to_pylist())
        if companions is not None and companions.branch in raw.column_names
        else (0,) * n
    )
    totals_by_branch = (
        tuple(tuple(t[i] for i in key_positions) for t in companions.totals)
        if companions is not None
        else ((False,) * len(key_positions),)
    )
    layout = Layout(
        keys=tuple(keys),
        branches=branches,
        totals=totals_by_branch,
        values={outputs[i].name: values[i] for i in additive},
    )
    equations = linked(layout) if additive and n > 1 else ()

    # Differencing: against the project's earlier shown cells and the other rows of this output.
    populations, scheme = _difference(
        raw,
        companions,
        outputs,
        agg_positions,
        findings,
        equations,
        params,
        history,
        _definitions(raw, plan, companions, keys),
        notes,
    )

    # Secondary suppression, so no hidden cell can be recovered from those relations.
    if equations:
        notes.append(f"{len(equations)} relations between cells (totals, margins) were checked for recovery")
    level = [sum(totals_by_branch[b]) for b in branches]
    _complement(findings, equations, outputs, agg_positions, additive, values, units, keys, level, params)

    # Rounding, with totals kept consistent.
    rounded: dict[Cell, Any] = {}
    if params.rounding_base > 0:
        hidden = {c for c, f in findings.items() if f.status is not CellStatus.OK}
        additive_values = {(r, outputs[i].name): values[i][r] for i in additive for r in range(n)}
        rounded = rounding(additive_values, hidden, list(equations), params.rounding_base)
        notes.append(f"counts and sums rounded to base {params.rounding_base}; totals are sums of their rounded parts")

    populations = _shown_only(populations, findings)

    reports: list[CellReport] = []
    columns: list[pa.Array] = []
    masks: list[tuple[bool, ...]] = []
    for i, out in enumerate(outputs):
        typ = raw.schema.field(out.name).type
        if out.kind != "aggregate":
            columns.append(pa.array(values[i], type=typ))
            masks.append(tuple(False for _ in values[i]))
            continue
        shown_values, mask = [], []
        for r, value in enumerate(values[i]):
            cell = (r, out.name)
            found = findings[cell]
            ok = found.status is CellStatus.OK
            published = restore_type(rounded.get(cell, value), value)
            exact = {
                "value": float(value) if isinstance(value, Decimal) else value,
                "published": float(published) if isinstance(published, Decimal) else published,
            }
            reports.append(
                CellReport(
                    row=r,
                    column=out.name,
                    status=found.status,
                    rule=found.rule,
                    units=units[r],
                    detail=found.detail,
                    figures={**figures(stats[cell], found, params), **exact},
                    secondary=found.rule == SECONDARY,
                )
            )
            shown_values.append(published if ok else None)
            mask.append(not ok)
        columns.append(pa.array(shown_values, type=typ))
        masks.append(tuple(mask))
    table = pa.Table.from_arrays(columns, names=[o.name for o in outputs])
    report = DisclosureReport(tuple(reports), params, tuple(notes))
    return Protected(table=table, suppressed=tuple(masks), report=report, populations=populations, scheme=scheme)


def _definitions(
    raw: pa.Table, plan: ProtectionPlan, companions: Companions | None, keys: Sequence[tuple[Any, ...]]
) -> list[str]:
    """Per row, what selected its units: its branch's definition (``plan.definitions``) and its group keys."""
    branches = plan.definitions
    if not branches or companions is None or companions.branch not in raw.column_names:
        return []
    which = raw.column(companions.branch).to_pylist()
    return [
        hashlib.sha256(f"{branches[b]}|{k!r}".encode()).hexdigest()[:32] if b is not None and b < len(branches) else ""
        for b, k in zip(which, keys)
    ]


def _difference(
    raw: pa.Table,
    companions: Companions | None,
    outputs: Sequence[OutputSpec],
    positions: Sequence[int],
    findings: dict[Cell, Finding],
    equations: Sequence[Any],
    params: Parameters,
    history: diff.History | None,
    definitions: Sequence[str] = (),
    notes: list[str] | None = None,
) -> tuple[tuple[diff.Population, ...], str]:
    """Suppress cells that difference with another shown cell; the populations and their scheme."""
    n = raw.num_rows
    if companions is None or companions.population not in raw.column_names or not n:
        return (), ""
    scheme = diff.scheme(raw.column(companions.canary)[0].as_py())
    shown: dict[int, dict[str, tuple[str, ...]]] = {}
    for i in positions:
        fam = diff.family(companions.unit_label)
        for r in range(n):
            if findings[(r, outputs[i].name)].status is CellStatus.OK:
                cols = shown.setdefault(r, {})
                cols[fam] = cols.get(fam, ()) + (outputs[i].name,)
    column = raw.column(companions.population).combine_chunks()
    if not shown or column.null_count == n:
        return (), scheme
    lists = pc.split_pattern(pc.fill_null(column.cast(pa.string()), ""), ",")  # "h1,h2,..." -> [h1, h2, ...]
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(lists)
    lengths[
        pc.equal(column.cast(pa.string()), "").to_numpy(zero_copy_only=False)
        | column.is_null().to_numpy(zero_copy_only=False)
    ] = 0
    flat = pc.cast(pc.filter(values, pc.not_equal(values, "")), pa.uint64()).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    sketches = build_many(flat, offsets)
    populations = diff.populations(flat, offsets, shown, definitions, sketches)
    pairs = [(eq.total[0], part[0]) for eq in equations for part in eq.parts]
    findings.update(diff.differencing(populations, params, history, scheme=scheme, linked=pairs, notes=notes))
    # A total row over parts in other rows: are all its units in those rows?
    relations = [
        (eq.total[0], [part[0] for part in eq.parts])
        for eq in equations
        if all(part[0] != eq.total[0] for part in eq.parts)
    ]
    for row, d in diff.gaps(sketches, relations, params.min_units).items():
        for i in positions:
            cell = (row, outputs[i].name)
            if findings[cell].status is CellStatus.OK:
                findings[cell] = diff.gap_finding(d, params.min_units)
    return populations, scheme


def _complement(
    findings: dict[Cell, Finding],
    equations: Sequence[Any],
    outputs: Sequence[OutputSpec],
    positions: Sequence[int],
    additive: Sequence[int],
    values: dict[int, list[Any]],
    units: Sequence[int | None],
    keys: Sequence[tuple[Any, ...]],
    level: Sequence[int],
    params: Parameters,
) -> None:
    """Secondary suppression and linked statistics, repeated until nothing more needs hiding."""
    n = len(keys)
    for _ in range(len(positions) + 2):
        chosen = {}
        if equations:
            candidates = {
                (r, outputs[i].name): Candidate(
                    values[i][r], units[r], findings[(r, outputs[i].name)].status is not CellStatus.OK, level[r]
                )
                for i in additive
                for r in range(n)
            }
            chosen = secondary(equations, candidates, params.min_units)
            for cell, why in chosen.items():
                r, col = why.protects
                findings[cell] = Finding(
                    CellStatus.SUPPRESSED,
                    SECONDARY,
                    f"hidden so that row {r} ({_label(keys[r])}) {col} cannot be recovered: {why.why}",
                    {"protects": {"row": r, "column": col}},
                )
        if not linked_statistics(findings, outputs, positions, n) and not chosen:
            return


def _shown_only(populations: Sequence[diff.Population], findings: dict[Cell, Finding]) -> tuple[diff.Population, ...]:
    """The populations of the cells finally shown: only those can be subtracted from later."""
    out = []
    for p in populations:
        families = {
            f: shown
            for f, cols in p.families.items()
            if (shown := tuple(c for c in cols if findings[(p.row, c)].status is CellStatus.OK))
        }
        if families:
            out.append(replace(p, families=families))
    return tuple(out)
