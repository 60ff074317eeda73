"""What the output checkers' pages show, prepared as plain values for the templates.

An output becomes rows of cells, each with its text (the value, or ``[c]``), its status class
(the colour, always with a word or symbol too, never colour alone), and the figures a checker
needs: distinct units, the dominance share, the p% ratio. Cells that are not ok are listed
again with their rule, figures and the analyst's reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trust.outputs.output import Output
from trust.outputs.release import Comment, ReleaseRequest, ReleaseState
from trust.outputs.release_text import meaning
from trust.outputs.render import format_value
from trust.sdc.report import SUPPRESSED_MARKER, CellReport, CellStatus

MAX_PAGE_ROWS = 200  # rows of one table shown on the page; the figures list still covers every flagged cell

STATE_LABELS = {
    ReleaseState.DRAFT: "Draft",
    ReleaseState.SUBMITTED: "Waiting for review",
    ReleaseState.UNDER_REVIEW: "Under review",
    ReleaseState.APPROVED: "Approved",
    ReleaseState.REJECTED: "Rejected",
    ReleaseState.RETURNED: "Returned for changes",
    ReleaseState.RELEASED: "Released",
    ReleaseState.WITHDRAWN: "Withdrawn",
}


@dataclass(frozen=True)
class CellView:
    text: str
    css: str  # cell-ok, cell-suppressed, cell-secondary, cell-review, cell-key
    label: str = ""  # the status in words, for cells that are not ok
    units: str = ""
    title: str = ""
    numeric: bool = False
    truth: str = ""  # for checkers: the true value, beside the published one


@dataclass(frozen=True)
class FlaggedCell:
    row: int
    group: str
    column: str
    status: str
    rule: str
    units: str
    dominance: str
    p_ratio: str
    detail: str
    reason: str
    true_value: str = ""
    published: str = ""  # what the trust would publish, were the cell released


@dataclass(frozen=True)
class DatasetRead:
    """A dataset an output read: the version, and a warning when it is no longer what the source holds."""

    id: str
    version: str
    stale: str  # "superseded by …" or "changed at the source since …", else ""


@dataclass(frozen=True)
class OutputView:
    id: str
    sql: str
    created: str
    author: str
    summary: str
    thresholds: str
    datasets: list[DatasetRead]
    columns: list[str]
    rows: list[list[CellView]]
    hidden_rows: int
    flagged: list[FlaggedCell]
    counts: Mapping[str, int]
    notes: tuple[str, ...] = ()  # table-level findings for checkers: relations checked, rows withheld


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value) * 100:.1f}%"


def _status(cell: CellReport) -> tuple[str, str]:
    if cell.status is CellStatus.SUPPRESSED:
        return ("cell-secondary", "suppressed (secondary)") if cell.secondary else ("cell-suppressed", "suppressed")
    if cell.status is CellStatus.REVIEW:
        return "cell-review", "in review"
    return "cell-ok", ""


def output_view(out: Output, reasons: Mapping[str, str], stale: Mapping[str, str] | None = None) -> OutputView:
    by_cell = {(c.row, c.column): c for c in out.report.cells}
    measured = {c.column for c in out.report.cells}
    keys = [c for c in out.columns if c not in measured]
    rows, flagged = [], []
    table_rows = out.rows(marker=SUPPRESSED_MARKER)
    for r, values in enumerate(table_rows):
        group = ", ".join(format_value(values[out.columns.index(k)]) for k in keys) or f"row {r}"
        cells = []
        for name, value in zip(out.columns, values):
            cell = by_cell.get((r, name))
            if cell is None:
                cells.append(CellView(format_value(value), "cell-key"))
                continue
            css, label = _status(cell)
            figures = dict(cell.figures or {})
            units = cell.units if cell.units is not None else figures.get("units")
            title = "; ".join(p for p in (label, cell.rule or "", cell.detail) if p)
            text = SUPPRESSED_MARKER if value == SUPPRESSED_MARKER else format_value(value)
            truth = f"true {format_value(figures['value'])}" if "value" in figures else ""
            cells.append(
                CellView(
                    text,
                    css,
                    label,
                    "" if units is None else f"{units:,} units",
                    title,
                    numeric=not isinstance(value, str) or value == SUPPRESSED_MARKER,
                    truth=truth,
                )
            )
            if cell.status is not CellStatus.OK:
                flagged.append(
                    FlaggedCell(
                        r,
                        group,
                        name,
                        label,
                        ("secondary" if cell.secondary else cell.rule) or "",
                        "" if units is None else f"{units:,}",
                        _pct(figures.get("dominance_share")),
                        _pct(figures.get("p_ratio")),
                        cell.detail,
                        reasons.get(f"{r}:{name}", ""),
                        format_value(figures.get("value")),
                        format_value(figures.get("published")),
                    )
                )
        if r < MAX_PAGE_ROWS:
            rows.append(cells)
    p = out.report.parameters
    thresholds = (
        f"minimum {p.min_units} units per cell; dominance ({getattr(p, 'dominance_n', '?')}, "
        f"{_pct(getattr(p, 'dominance_k', None))}); p% {_pct(getattr(p, 'p_percent', None))}"
    )
    if getattr(p, "rounding_base", 0):
        thresholds += f"; rounded to base {p.rounding_base}"
    return OutputView(
        id=out.id,
        sql=out.sql.strip(),
        created=out.created,
        author=out.user,
        summary=out.report.summary(),
        thresholds=thresholds,
        datasets=[
            DatasetRead(d, out.versions.get(d) or "", (stale or {}).get(d, "")) for d in sorted(out.fingerprints)
        ],
        columns=list(out.columns),
        rows=rows,
        hidden_rows=max(0, len(table_rows) - MAX_PAGE_ROWS),
        flagged=flagged,
        counts=dict(out.report.counts()),
        notes=tuple(out.report.notes),
    )


def state_label(request: ReleaseRequest) -> str:
    return STATE_LABELS[request.state]


def state_meaning(request: ReleaseRequest) -> str:
    return meaning(request)


@dataclass(frozen=True)
class Thread:
    """A comment and its replies, with what it is about in words."""

    first: Comment
    replies: list[Comment]
    about: str  # "the request", "output out-…", "cell 3:claimants of out-…"


def threads(comments: Sequence[Comment]) -> list[Thread]:
    firsts = [c for c in comments if not c.parent]
    found = []
    for c in firsts:
        about = f"cell {c.cell} of output {c.output}" if c.cell else f"output {c.output}" if c.output else "the request"
        found.append(Thread(c, [r for r in comments if r.parent == c.id], about))
    return found


def cell_choices(view: OutputView) -> list[tuple[str, str]]:
    """The cells a comment may name from the page's form: those not shown, by row and group."""
    return [(f"{f.row}:{f.column}", f"row {f.row} ({f.group}), {f.column}: {f.status}") for f in view.flagged]


def conditions_from_form(view: Any, department: str, form: Mapping[str, list[str]]) -> dict[str, Any]:
    """A data owner's conditions from the application page's form: the columns left ticked (when fewer than
    asked for), a row filter per dataset, and a higher minimum number of units."""
    conditions: dict[str, Any] = {}
    columns: dict[str, list[str]] = {}
    filters = []
    for dataset, asked in view.application.datasets.items():
        if f"shown-{dataset}" not in form:  # not one of this department's datasets on the page
            continue
        kept = [c for c in form.get(f"columns-{dataset}", []) if c in asked]
        if set(kept) != set(asked):
            columns[dataset] = kept
        expression = (form.get(f"filter-{dataset}") or [""])[0].strip()
        if expression:
            filters.append({"dataset": dataset, "expression": expression})
    if columns:
        conditions["columns"] = columns
    if filters:
        conditions["row_filters"] = filters
    min_units = (form.get("min_units") or [""])[0].strip()
    if min_units:
        conditions["disclosure"] = {"min_units": min_units}
    return conditions


def application_from_form(form: Mapping[str, list[str]]) -> dict[str, Any]:
    """An application from the apply page's form: the ticked columns, each with its reason."""

    def one(key: str) -> str:
        return (form.get(key) or [""])[0].strip()

    datasets: dict[str, dict[str, str]] = {}
    for ticked in form.get("column", []):
        dataset, _, column = ticked.partition("|")
        if dataset and column:
            datasets.setdefault(dataset, {})[column] = one(f"reason-{ticked}")
    return {
        "project": one("project"),
        "title": one("title"),
        "purpose": one("purpose"),
        "legal_gateway": one("legal_gateway"),
        "sponsor": one("sponsor"),
        "datasets": datasets,
        "members": [m.strip() for m in one("members").split(",") if m.strip()],
        "outputs": one("outputs"),
        "expires": one("expires"),
        "dpia": one("dpia"),
        "amends": one("amends") == "1",
    }
