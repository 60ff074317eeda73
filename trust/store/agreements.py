"""Data-sharing applications, each department's decision on its part, and the agreements they become
(``applications``, ``application_decisions``, ``agreements``).

An agreement is the policy data of one project (``data.projects[id]`` for the Rego), versioned: each
approved application or amendment adds a version, and the newest version of a project is in force.
``version()`` changes with every new agreement, so the running trust knows to rebuild its policy.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredApplication:
    id: str
    applicant: str
    state: str  # draft, submitted, approved, rejected, withdrawn
    project: str  # the project id it creates, or the one it amends
    amends: bool
    spec: dict[str, Any]  # what was applied for (trust.service.agreements.Application)
    created: str
    updated: str


@dataclass(frozen=True)
class StoredDecision:
    application: str
    department: str
    approver: str
    decision: str  # approve or reject
    conditions: dict[str, Any]
    note: str
    created: str


@dataclass(frozen=True)
class StoredAgreement:
    project: str
    version: int
    spec: dict[str, Any]  # the project's policy data
    application: str
    created: str


class AgreementStore(Protocol):
    def put_application(self, application: StoredApplication) -> None: ...

    def application(self, application_id: str) -> StoredApplication | None: ...

    def applications(
        self, *, applicant: str | None = None, states: tuple[str, ...] = ()
    ) -> list[StoredApplication]: ...

    def add_decision(self, decision: StoredDecision) -> None: ...

    def decisions(self, application_id: str) -> list[StoredDecision]: ...

    def add_agreement(self, agreement: StoredAgreement) -> None: ...

    def agreements(self, project: str | None = None) -> list[StoredAgreement]: ...

    def current(self) -> dict[str, StoredAgreement]: ...

    def version(self) -> int: ...


class SqliteAgreements:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def put_application(self, a: StoredApplication) -> None:
        self.con.execute(
            "INSERT INTO applications (id, applicant, state, project, amends, spec, created, updated) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, project = excluded.project, "
            "spec = excluded.spec, updated = excluded.updated",
            (
                a.id,
                a.applicant,
                a.state,
                a.project,
                int(a.amends),
                json.dumps(a.spec, sort_keys=True),
                a.created,
                a.updated,
            ),
        )

    def application(self, application_id: str) -> StoredApplication | None:
        row = self.con.execute(
            "SELECT id, applicant, state, project, amends, spec, created, updated FROM applications WHERE id = ?",
            (application_id,),
        ).fetchone()
        return None if row is None else _application(row)

    def applications(self, *, applicant: str | None = None, states: tuple[str, ...] = ()) -> list[StoredApplication]:
        sql = "SELECT id, applicant, state, project, amends, spec, created, updated FROM applications"
        where, args = [], []  # type: list[str], list[Any]
        if applicant is not None:
            where.append("applicant = ?")
            args.append(applicant)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += list(states)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_application(r) for r in self.con.execute(sql + " ORDER BY updated DESC, id", args)]

    def add_decision(self, d: StoredDecision) -> None:
        self.con.execute(
            "INSERT INTO application_decisions (application, department, approver, decision, conditions, note, created) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                d.application,
                d.department,
                d.approver,
                d.decision,
                json.dumps(d.conditions, sort_keys=True),
                d.note,
                d.created,
            ),
        )

    def decisions(self, application_id: str) -> list[StoredDecision]:
        rows = self.con.execute(
            "SELECT application, department, approver, decision, conditions, note, created FROM application_decisions "
            "WHERE application = ? ORDER BY created, department, approver",
            (application_id,),
        )
        return [StoredDecision(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    def add_agreement(self, a: StoredAgreement) -> None:
        self.con.execute(
            "INSERT INTO agreements (project, version, spec, application, created) VALUES (?,?,?,?,?)",
            (a.project, a.version, json.dumps(a.spec, sort_keys=True), a.application, a.created),
        )

    def agreements(self, project: str | None = None) -> list[StoredAgreement]:
        sql, args = "SELECT project, version, spec, application, created FROM agreements", ()  # type: str, tuple
        if project is not None:
            sql, args = sql + " WHERE project = ?", (project,)
        return [
            StoredAgreement(r[0], int(r[1]), json.loads(r[2]), r[3], r[4])
            for r in self.con.execute(sql + " ORDER BY project, version", args)
        ]

    def current(self) -> dict[str, StoredAgreement]:
        """Each project's newest agreement."""
        found: dict[str, StoredAgreement] = {}
        for a in self.agreements():
            found[a.project] = a  # ordered by version
        return found

    def version(self) -> int:
        row = self.con.execute("SELECT count(*) FROM agreements").fetchone()
        return int(row[0])


def _application(row: tuple[Any, ...]) -> StoredApplication:
    return StoredApplication(row[0], row[1], row[2], row[3], bool(row[4]), json.loads(row[5]), row[6], row[7])
