"""Rounds of a release request, and what changed between two of them.

Each time a request is submitted (and each time it is submitted again after a return) the trust keeps
what the checkers were asked to review: the justification, and the outputs with the author's cell
reasons and which output each corrected one replaces. ``diff_rounds`` compares two rounds as a
checker needs after "return for changes": outputs added, removed and replaced; for a replaced output,
the cells whose status or shown value changed; the justification and cell reasons that changed.

Cells are matched by their row's labels (the values of the columns that are not measures), so a
corrected table whose rows moved still lines up; a row only one side has is added or removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trust.outputs.output import Output
from trust.outputs.release import ReleaseOutput
from trust.outputs.render import format_value
from trust.sdc.report import SUPPRESSED_MARKER


@dataclass(frozen=True)
class Round:
    """What the checkers reviewed in one round."""

    number: int
    submitted: str
    justification: str
    outputs: tuple[ReleaseOutput, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "submitted": self.submitted,
            "justification": self.justification,
            "outputs": [o.to_json() for o in self.outputs],
        }


@dataclass(frozen=True)
class CellChange:
    row: str  # the row's labels, e.g. "region=E12000002"
    column: str
    before: str  # status and shown value, e.g. "ok 107" or "suppressed [c]"; "" when the row is new
    after: str  # "" when the row is gone

    def to_json(self) -> dict[str, str]:
        return {"row": self.row, "column": self.column, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class OutputChange:
    kind: str  # added, removed, replaced, reasons
    output: str  # the output in the newer round (for removed: the one that went)
    replaces: str | None = None
    cells: tuple[CellChange, ...] = ()
    reasons_before: Mapping[str, str] = field(default_factory=dict)
    reasons_after: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "output": self.output,
            "replaces": self.replaces,
            "cells": [c.to_json() for c in self.cells],
            "reasons_before": dict(self.reasons_before),
            "reasons_after": dict(self.reasons_after),
        }


@dataclass(frozen=True)
class RoundDiff:
    before: int
    after: int
    outputs: tuple[OutputChange, ...]
    justification_before: str
    justification_after: str

    @property
    def justification_changed(self) -> bool:
        return self.justification_before != self.justification_after

    @property
    def empty(self) -> bool:
        return not self.outputs and not self.justification_changed

    def to_json(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "outputs": [o.to_json() for o in self.outputs],
            "justification_changed": self.justification_changed,
            "justification_before": self.justification_before,
            "justification_after": self.justification_after,
        }


def diff_rounds(old: Round, new: Round, outputs: Mapping[str, Output]) -> RoundDiff:
    """What changed from round ``old`` to round ``new``; ``outputs`` holds every output either names."""
    before = {o.output: o for o in old.outputs}
    after = {o.output: o for o in new.outputs}
    replaced = {o.replaces: o.output for o in new.outputs if o.replaces and o.replaces in before}
    changes: list[OutputChange] = []
    for o in new.outputs:
        if o.output in before:
            if dict(before[o.output].cell_reasons) != dict(o.cell_reasons):
                changes.append(
                    OutputChange(
                        "reasons",
                        o.output,
                        reasons_before=dict(before[o.output].cell_reasons),
                        reasons_after=dict(o.cell_reasons),
                    )
                )
        elif o.replaces in before:
            changes.append(
                OutputChange(
                    "replaced",
                    o.output,
                    replaces=o.replaces,
                    cells=tuple(cell_changes(outputs[o.replaces], outputs[o.output])),
                    reasons_before=dict(before[o.replaces].cell_reasons),
                    reasons_after=dict(o.cell_reasons),
                )
            )
        else:
            changes.append(OutputChange("added", o.output, reasons_after=dict(o.cell_reasons)))
    for o in old.outputs:
        if o.output not in after and o.output not in replaced:
            changes.append(OutputChange("removed", o.output, reasons_before=dict(o.cell_reasons)))
    return RoundDiff(old.number, new.number, tuple(changes), old.justification, new.justification)


def cell_changes(old: Output, new: Output) -> list[CellChange]:
    """Cells whose status or shown value differ between two versions of a table, matched by row labels."""
    measures = _measures(old) | _measures(new)
    a, b = _cells(old, measures), _cells(new, measures)
    found = []
    for key in list(dict.fromkeys([*a, *b])):
        was, now = a.get(key, ""), b.get(key, "")
        if was != now:
            found.append(CellChange(key[0], key[1], was, now))
    return found


def _measures(out: Output) -> set[str]:
    return {c.column for c in out.report.cells}


def _cells(out: Output, measures: set[str]) -> dict[tuple[str, str], str]:
    labels = [c for c in out.columns if c not in measures]
    status = {(c.row, c.column): c.status.value for c in out.report.cells}
    rows = out.rows(marker=SUPPRESSED_MARKER)
    found: dict[tuple[str, str], str] = {}
    for r, row in enumerate(rows):
        values = dict(zip(out.columns, row))
        key = ", ".join(f"{c}={values[c]}" for c in labels) if labels else f"row {r}"
        for column in out.columns:
            if column in measures:
                found[(key, column)] = f"{status.get((r, column), 'ok')} {_shown(values[column])}"
    return found


def _shown(value: Any) -> str:
    return value if value == SUPPRESSED_MARKER else format_value(value)


def rounds_reviewed_by(reviews: Sequence[Any], checker: str) -> list[int]:
    """The rounds in which ``checker`` reviewed anything, oldest first."""
    return sorted({r.round for r in reviews if r.reviewer == checker})
