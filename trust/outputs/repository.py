"""Stored outputs, read back from the ``outputs`` table (``Trust._save`` writes them).

``list_outputs`` returns light summaries (no table); ``load_output`` rebuilds the whole
``Output``: the protected table from its Arrow IPC bytes, and the suppression mask from the
stored per-cell report, since a null in the table may also be a genuine null.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trust.errors import UnknownName
from trust.outputs.output import Output
from trust.policy.decision import Disclosure
from trust.sdc.report import CellReport, CellStatus, DisclosureReport
from trust.store import Store


@dataclass(frozen=True)
class OutputSummary:
    id: str
    user: str
    project: str
    created: str
    sql: str
    status: str  # the report's overall status: ok, suppressed or review
    datasets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "project": self.project, "created": self.created,
                "sql": self.sql, "status": self.status, "datasets": list(self.datasets)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OutputSummary:
        return cls(str(raw["id"]), str(raw["user"]), str(raw["project"]), str(raw["created"]), str(raw["sql"]),
                   str(raw["status"]), tuple(raw.get("datasets", ())))


def report_from_json(raw: Mapping[str, Any], parameters: Disclosure) -> DisclosureReport:
    """A report as ``DisclosureReport.to_json`` wrote it (with or without the checkers' figures)."""
    known = {f.name for f in dataclasses.fields(CellReport)}
    cells = []
    for c in raw.get("cells", ()):
        extra = {k: c[k] for k in ("figures", "secondary") if k in known and c.get(k) is not None}
        cells.append(CellReport(row=int(c["row"]), column=str(c["column"]), status=CellStatus(c["status"]),
                                rule=c.get("rule"), units=c.get("units"), detail=str(c.get("detail") or ""), **extra))
    return DisclosureReport(tuple(cells), parameters, notes=tuple(str(n) for n in raw.get("notes", ())),
                            withheld=int(raw.get("withheld") or 0))


def suppression_mask(table: pa.Table, report: DisclosureReport) -> tuple[tuple[bool, ...], ...]:
    """Which cells the analyst sees as ``[c]``: every cell not ``ok`` (suppressed, or held for review)."""
    hidden = {(c.column, c.row) for c in report.cells if c.status is not CellStatus.OK}
    return tuple(tuple((name, r) in hidden for r in range(table.num_rows)) for name in table.column_names)


def disclosure_from_decision(decision: Mapping[str, Any]) -> Disclosure:
    return Disclosure.from_json((decision.get("obligations") or {}).get("disclosure") or decision.get("disclosure") or {})


_SUMMARY_SQL = "SELECT id, user_name, project, created, sql, report, fingerprints FROM outputs"


def _summary(row: tuple[Any, ...]) -> OutputSummary:
    report = json.loads(row[5])
    return OutputSummary(row[0], row[1], row[2], row[3], row[4], str(report.get("status", "ok")),
                         tuple(sorted(json.loads(row[6]))))


def list_outputs(store: Store, *, projects: Iterable[str] | None = None, limit: int = 1000) -> list[OutputSummary]:
    """Newest first; only ``projects`` when given (an empty list means none)."""
    sql, args = _SUMMARY_SQL, []  # type: str, list[Any]
    if projects is not None:
        wanted = sorted(set(projects))
        if not wanted:
            return []
        sql += f" WHERE project IN ({','.join('?' * len(wanted))})"
        args += wanted
    with store.connect() as con:
        rows = con.execute(sql + " ORDER BY created DESC, rowid DESC LIMIT ?", (*args, limit)).fetchall()
    return [_summary(r) for r in rows]


def output_summary(store: Store, output_id: str) -> OutputSummary:
    with store.connect() as con:
        row = con.execute(_SUMMARY_SQL + " WHERE id = ?", (output_id,)).fetchone()
    if row is None:
        raise UnknownName(f"No output {output_id!r} is stored in the trust.", output=output_id)
    return _summary(row)


def load_output(store: Store, output_id: str) -> Output:
    with store.connect() as con:
        row = con.execute(
            "SELECT id, user_name, project, created, sql, executed_sql, decision, report, fingerprints, table_ipc "
            "FROM outputs WHERE id = ?", (output_id,)).fetchone()
    if row is None:
        raise UnknownName(f"No output {output_id!r} is stored in the trust.", output=output_id)
    decision = json.loads(row[6])
    table = pa.ipc.open_stream(row[9]).read_all()
    report = report_from_json(json.loads(row[7]), disclosure_from_decision(decision))
    return Output(
        id=row[0], user=row[1], project=row[2], created=row[3], sql=row[4], executed_sql=row[5], table=table,
        suppressed=suppression_mask(table, report), report=report, decision=decision,
        fingerprints=json.loads(row[8]), stats={"rows": table.num_rows},
    )
