"""Publishing with noise: every number perturbed by the cell key method (``trust.sdc.perturbation``).

The engine returned only rows with at least the minimum units in every part (the rest never left
it), each aggregate's true value with its cell key and, for magnitudes, its largest contribution
and that unit's record key (``trust.sdc.plan.Publication``). In order:

1. each cell is judged on its own (``trust.sdc.judge``): zeros, few contributors, negative
   contributions (review), dominance, p%, minima and maxima; a sum is hidden with its average;
2. each aggregate is perturbed, and each column recomputed from its perturbed aggregates (its
   formula), so sums, averages and counts in one row stay consistent with each other;
3. the analyst's HAVING is applied to the published numbers (a hidden one is NULL there), then
   their LIMIT.

Perturbation makes secondary suppression and differencing unnecessary: a margin or total is
perturbed as its own cell, and no combination of published cells recovers a hidden one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

from trust.errors import DisclosureBlocked
from trust.sdc.cells import CellStats, Finding, Parameters
from trust.sdc.formula import evaluate
from trust.sdc.formula import slots as formula_slots
from trust.sdc.judge import Cell, Protected, cell_stats, figures, judge, linked_statistics, row_units
from trust.sdc.perturbation import Noise, significant
from trust.sdc.plan import ProtectionPlan, Publication, Slot
from trust.sdc.report import CellReport, CellStatus, DisclosureReport

UNPERTURBABLE = "unperturbable"


def _perturbed(slot: Slot, row: int, columns: Mapping[str, list[Any]], noise: Noise) -> float | None:
    """The published value of one aggregate, or None when it has no value or cannot be perturbed."""
    value = columns[slot.value][row]
    key = columns[slot.cell_key][row]
    if value is None or key is None:
        return None
    if slot.kind == "count":
        return float(noise.count(round(value), key))
    if slot.kind in ("sum", "avg"):
        largest = columns[slot.largest][row] if slot.largest else None
        top = columns[slot.top_key][row] if slot.top_key else None
        if largest is None:
            return None  # contributions were not computed: a checker judges it
        total = noise.magnitude(value, largest, top, key)
    elif slot.kind == "avg_count":
        total = float(noise.count(round(value), key))
    else:  # min, max, median, quantiles
        return noise.scaled(value, key)
    if slot.kind == "sum":
        return total
    n, n_key = columns[slot.count][row], columns[slot.count_key][row]  # type: ignore[index]
    if n is None or n_key is None:
        return None
    return significant(total / max(1, noise.count(round(n), n_key)))


def _typed(value: Any, typ: pa.DataType) -> Any:
    """A published number in the column's own type (a count stays whole)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if pa.types.is_integer(typ):
        return int(Decimal(repr(float(value))).to_integral_value(rounding="ROUND_HALF_UP"))
    if pa.types.is_decimal(typ):
        return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-typ.scale), rounding="ROUND_HALF_UP")
    return float(value)


def _rounded(value: Any, base: int) -> Any:
    return None if value is None else base * round(float(value) / base)


def publish(raw: pa.Table, plan: ProtectionPlan, params: Parameters, *, max_rows: int) -> Protected:
    """Judge every aggregate cell, perturb every number, apply HAVING and LIMIT to what is published."""
    companions = plan.companions
    noise = params.noise
    assert companions is not None and companions.publication is not None and noise is not None
    publication: Publication = companions.publication
    if raw.num_rows > max_rows:
        # Only rows of at least the minimum units come back, so this says nothing about a small group.
        raise DisclosureBlocked(
            f"The result has more than {max_rows:,} rows of at least {params.min_units} units; the limit is "
            f"{max_rows:,}. Group by fewer or coarser dimensions.",
            limit=max_rows,
        )
    outputs = list(plan.outputs)
    n = raw.num_rows
    units = row_units(raw, plan.unit_columns)
    agg_positions = [i for i, o in enumerate(outputs) if o.kind == "aggregate"]
    values = {i: raw.column(outputs[i].name).to_pylist() for i in range(len(outputs))}
    findings: dict[Cell, Finding] = {}
    stats: dict[Cell, CellStats] = {}
    for i in agg_positions:
        for r, candidates in enumerate(cell_stats(raw, plan, companions, i, values[i], units)):
            findings[(r, outputs[i].name)], stats[(r, outputs[i].name)] = judge(candidates, params)
    linked_statistics(findings, outputs, agg_positions, n)

    columns = {name: raw.column(name).to_pylist() for name in publication.columns}
    branches = raw.column(companions.branch).to_pylist() if companions.branch in raw.column_names else [0] * n
    published: dict[Cell, Any] = {}
    slot_values: list[dict[int, Any]] = []
    for r in range(n):
        mine = {s.key: _perturbed(s, r, columns, noise) for s in publication.slots}
        slot_values.append(mine)
        formulas = publication.formulas[branches[r] or 0]
        for i in agg_positions:
            f = formulas[i]
            cell = (r, outputs[i].name)
            if f is None:
                continue
            used = formula_slots(f)
            if any(mine.get(k) is None and columns[_slot(publication, k).value][r] is not None for k in used):
                if findings[cell].status is CellStatus.OK:
                    findings[cell] = Finding(
                        CellStatus.REVIEW,
                        UNPERTURBABLE,
                        "its per-unit figures were not computed, so it cannot be perturbed",
                    )
            published[cell] = evaluate(f, mine)

    keep = _having(publication, findings, slot_values, branches, outputs, agg_positions)
    if publication.limit is not None:
        keep = keep[: publication.limit]
    return _table(raw, outputs, agg_positions, keep, findings, stats, published, units, params)


def _slot(publication: Publication, key: int) -> Slot:
    return next(s for s in publication.slots if s.key == key)


def _having(
    publication: Publication,
    findings: Mapping[Cell, Finding],
    slot_values: Sequence[dict[int, Any]],
    branches: Sequence[Any],
    outputs: Sequence[Any],
    positions: Sequence[int],
) -> list[int]:
    """The rows the analyst's HAVING keeps, judged on published numbers; a hidden one is NULL there."""
    rows = list(range(len(slot_values)))
    if publication.having is None:
        return rows
    kept = []
    for r in rows:
        formulas = publication.formulas[branches[r] or 0]
        hidden: set[int] = set()
        for i in positions:
            f = formulas[i]
            if f is not None and findings[(r, outputs[i].name)].status is not CellStatus.OK:
                hidden |= formula_slots(f)
        seen = {k: (None if k in hidden else v) for k, v in slot_values[r].items()}
        if evaluate(publication.having, seen) is True:
            kept.append(r)
    return kept


def _table(
    raw: pa.Table,
    outputs: Sequence[Any],
    positions: Sequence[int],
    keep: Sequence[int],
    findings: Mapping[Cell, Finding],
    stats: Mapping[Cell, CellStats],
    published: Mapping[Cell, Any],
    units: Sequence[int | None],
    params: Parameters,
) -> Protected:
    noise = params.noise
    assert noise is not None
    reports: list[CellReport] = []
    arrays: list[pa.Array] = []
    masks: list[tuple[bool, ...]] = []
    for out in outputs:
        typ = raw.schema.field(out.name).type
        column = raw.column(out.name).to_pylist()
        if out.kind != "aggregate":
            arrays.append(pa.array([column[r] for r in keep], type=typ))
            masks.append(tuple(False for _ in keep))
            continue
        shown, mask = [], []
        for new, r in enumerate(keep):
            cell = (r, out.name)
            found = findings[cell]
            value = _typed(published.get(cell), typ)
            if params.rounding_base > 0 and (out.function or "count") in ("count", "sum"):
                value = _typed(_rounded(value, params.rounding_base), typ)
            ok = found.status is CellStatus.OK
            extra = {"value": _jsonable(column[r]), "published": _jsonable(value)}
            reports.append(
                CellReport(
                    row=new,
                    column=out.name,
                    status=found.status,
                    rule=found.rule,
                    units=units[r],
                    detail=found.detail,
                    figures={**figures(stats[cell], found, params), **extra},
                )
            )
            shown.append(value if ok else None)
            mask.append(not ok)
        arrays.append(pa.array(shown, type=typ))
        masks.append(tuple(mask))
    table = pa.Table.from_arrays(arrays, names=[o.name for o in outputs])
    notes = (
        f"every number perturbed by the cell key method: counts by at most {noise.max_deviation} (variance "
        f"{noise.variance}); sums and averages by at most {noise.top_share + noise.cell_share * noise.max_deviation:g} "
        "times the cell's largest contribution",
    )
    return Protected(table=table, suppressed=tuple(masks), report=DisclosureReport(tuple(reports), params, notes))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value
