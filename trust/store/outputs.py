"""Stored outputs: the ``outputs`` table.

An output's protected table is kept as Arrow IPC bytes, its report and decision as JSON. Reading
one back rebuilds the whole ``Output``; the suppression mask comes from the stored report, since a
null in the table may also be a genuine null.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterable
from typing import Any, Protocol

import pyarrow as pa

from trust.errors import UnknownName
from trust.outputs.output import Output, OutputSummary
from trust.sdc.parameters import Parameters
from trust.sdc.report import DisclosureReport


class OutputStore(Protocol):
    def insert(self, output: Output) -> None: ...

    def get(self, output_id: str) -> Output: ...

    def summary(self, output_id: str) -> OutputSummary: ...

    def list(self, *, projects: Iterable[str] | None = None, limit: int = 1000) -> list[OutputSummary]: ...

    def authors(self, output_ids: Iterable[str]) -> set[str]: ...

    def digest(self, output_id: str) -> str | None: ...

    def ids(self) -> builtins.list[str]: ...


def parameters_of(decision: dict[str, Any]) -> Parameters:
    return Parameters.from_json(
        (decision.get("obligations") or {}).get("disclosure") or decision.get("disclosure") or {}
    )


_SUMMARY_SQL = "SELECT id, user_name, project, created, sql, report, fingerprints FROM outputs"


def _summary(row: tuple[Any, ...]) -> OutputSummary:
    report = json.loads(row[5])
    return OutputSummary(
        row[0], row[1], row[2], row[3], row[4], str(report.get("status", "ok")), tuple(sorted(json.loads(row[6])))
    )


def _missing(output_id: str) -> UnknownName:
    return UnknownName(f"No output {output_id!r} is stored in the trust (or it is not yours to see).", output=output_id)


class SqliteOutputs:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def insert(self, output: Output) -> None:
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, output.table.schema) as writer:
            writer.write_table(output.table)
        self.con.execute(
            "INSERT INTO outputs (id, user_name, project, created, sql, executed_sql, decision, report, fingerprints, "
            "table_ipc, versions, engine) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                output.id,
                output.user,
                output.project,
                output.created,
                output.sql,
                output.executed_sql,
                json.dumps(dict(output.decision)),
                json.dumps(output.report.to_json()),
                json.dumps(dict(output.fingerprints)),
                sink.getvalue(),
                json.dumps(dict(output.versions)),
                output.engine,
            ),
        )

    def get(self, output_id: str) -> Output:
        row = self.con.execute(
            "SELECT id, user_name, project, created, sql, executed_sql, decision, report, fingerprints, table_ipc, "
            "versions, engine FROM outputs WHERE id = ?",
            (output_id,),
        ).fetchone()
        if row is None:
            raise _missing(output_id)
        decision = json.loads(row[6])
        table = pa.ipc.open_stream(row[9]).read_all()
        report = DisclosureReport.from_json(json.loads(row[7]), parameters_of(decision))
        return Output(
            id=row[0],
            user=row[1],
            project=row[2],
            created=row[3],
            sql=row[4],
            executed_sql=row[5],
            table=table,
            suppressed=report.mask(table.column_names, table.num_rows),
            report=report,
            decision=decision,
            fingerprints=json.loads(row[8]),
            stats={"rows": table.num_rows},
            versions=json.loads(row[10]),
            engine=row[11],
        )

    def digest(self, output_id: str) -> str | None:
        """SHA-256 of the stored output (every column, the table's bytes included): what its audit event
        records, so doubled figures or a changed decision are seen (``trust.service.integrity``)."""
        row = self.con.execute(
            "SELECT id, user_name, project, created, sql, executed_sql, decision, report, fingerprints, versions, "
            "table_ipc, engine FROM outputs WHERE id = ?",
            (output_id,),
        ).fetchone()
        if row is None:
            return None
        # The engine is part of the digest when it is not DuckDB: outputs made before the choice keep theirs.
        engine = [] if row[11] == "duckdb" else [row[11]]
        body = json.dumps([*row[:10], hashlib.sha256(row[10]).hexdigest(), *engine], separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def ids(self) -> builtins.list[str]:
        return [r[0] for r in self.con.execute("SELECT id FROM outputs ORDER BY created, rowid")]

    def summary(self, output_id: str) -> OutputSummary:
        row = self.con.execute(_SUMMARY_SQL + " WHERE id = ?", (output_id,)).fetchone()
        if row is None:
            raise _missing(output_id)
        return _summary(row)

    def list(self, *, projects: Iterable[str] | None = None, limit: int = 1000) -> list[OutputSummary]:
        """Newest first; only ``projects`` when given (an empty list means none)."""
        sql, args = _SUMMARY_SQL, []  # type: str, list[Any]
        if projects is not None:
            wanted = sorted(set(projects))
            if not wanted:
                return []
            sql += f" WHERE project IN ({','.join('?' * len(wanted))})"
            args += wanted
        rows = self.con.execute(sql + " ORDER BY created DESC, rowid DESC LIMIT ?", (*args, limit)).fetchall()
        return [_summary(r) for r in rows]

    def authors(self, output_ids: Iterable[str]) -> set[str]:
        ids = list(output_ids)
        if not ids:
            return set()
        rows = self.con.execute(f"SELECT DISTINCT user_name FROM outputs WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {r[0] for r in rows}
