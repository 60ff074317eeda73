"""Audit events as stored: the ``audit_events`` table, and the head kept beside the database.

The chain itself (hashes, verification, the kinds of event) is ``trust.audit``; this module only
reads and writes rows. A chain alone cannot show that its newest events were deleted, so the newest
event's number and hash are also kept outside the database (``state.db.audit-head``), written after
each commit that added events and never moved back.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: str
    kind: str
    actor: str
    project: str | None
    payload: str  # canonical JSON, exactly as hashed
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditQuery:
    """Which events to read, newest first; every filter given must match (None: any).

    ``user`` matches the event's actor or the user it is about (a token issued *for* ana);
    ``dataset`` matches an event about that dataset or an output that read it; ``since`` and
    ``until`` are UTC timestamps as the events store them (``until`` exclusive)."""

    kinds: tuple[str, ...] = ()
    user: str | None = None
    project: str | None = None
    dataset: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 20


class AuditStore(Protocol):
    def last(self) -> tuple[int, str] | None: ...

    def insert(self, record: AuditRecord) -> None: ...

    def all(self, *, kind: str | None = None) -> list[AuditRecord]: ...

    def latest_about(self, field: str, value: str, having: str) -> AuditRecord | None: ...

    def search(self, query: AuditQuery) -> list[AuditRecord]: ...

    def after(self, seq: int, *, kinds: tuple[str, ...], limit: int = 500) -> list[AuditRecord]: ...


_COLUMNS = "seq, ts, kind, actor, project, payload, prev_hash, hash"
_SUBJECTS = ("output", "request", "version")


class SqliteAudit:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.appended: list[tuple[int, str]] = []  # this transaction's events, for the head once committed

    def last(self) -> tuple[int, str] | None:
        if self.appended:
            return self.appended[-1]
        row = self.con.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def insert(self, record: AuditRecord) -> None:
        self.con.execute(
            f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
            (
                record.seq,
                record.ts,
                record.kind,
                record.actor,
                record.project,
                record.payload,
                record.prev_hash,
                record.hash,
            ),
        )
        self.appended.append((record.seq, record.hash))

    def latest_about(self, field: str, value: str, having: str) -> AuditRecord | None:
        """The newest event whose payload names ``value`` as its ``field`` ('output', 'request' or
        'version') and holds ``having`` (e.g. the hash of the state it left), through an index on that
        field (migration 9)."""
        if field not in _SUBJECTS or not having.isidentifier():
            raise ValueError(f"events are indexed by {_SUBJECTS}, not {field!r}")
        row = self.con.execute(
            f"SELECT {_COLUMNS} FROM audit_events WHERE json_extract(payload, '$.{field}') = ? "
            f"AND json_extract(payload, '$.{having}') IS NOT NULL ORDER BY seq DESC LIMIT 1",
            (value,),
        ).fetchone()
        return None if row is None else AuditRecord(*row)

    def search(self, query: AuditQuery) -> list[AuditRecord]:
        """The newest ``query.limit`` events matching every filter given, newest first; a read only."""
        where: list[str] = []
        args: list[object] = []
        if query.kinds:
            where.append(f"kind IN ({','.join('?' * len(query.kinds))})")
            args += query.kinds
        if query.user is not None:
            where.append("(actor = ? OR json_extract(payload, '$.user') = ?)")
            args += [query.user, query.user]
        if query.project is not None:
            where.append("project = ?")
            args.append(query.project)
        if query.dataset is not None:
            where.append(
                "(json_extract(payload, '$.dataset') = ? OR EXISTS (SELECT 1 FROM json_each(payload, '$.datasets') "
                "WHERE json_each.value = ?))"
            )
            args += [query.dataset, query.dataset]
        if query.since is not None:
            where.append("ts >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("ts < ?")
            args.append(query.until)
        sql = f"SELECT {_COLUMNS} FROM audit_events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(max(0, query.limit))
        return [AuditRecord(*r) for r in self.con.execute(sql, args)]

    def after(self, seq: int, *, kinds: tuple[str, ...], limit: int = 500) -> list[AuditRecord]:
        """Events of ``kinds`` after event ``seq``, oldest first (for those who act on events in order)."""
        marks = ",".join("?" * len(kinds))
        rows = self.con.execute(
            f"SELECT {_COLUMNS} FROM audit_events WHERE seq > ? AND kind IN ({marks}) ORDER BY seq LIMIT ?",
            (seq, *kinds, limit),
        )
        return [AuditRecord(*r) for r in rows]

    def all(self, *, kind: str | None = None) -> list[AuditRecord]:
        where, args = (" WHERE kind = ?", (kind,)) if kind else ("", ())
        return [
            AuditRecord(*r) for r in self.con.execute(f"SELECT {_COLUMNS} FROM audit_events{where} ORDER BY seq", args)
        ]


class AuditHead:
    """The newest committed event, in a file next to the database."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".audit-head")

    def read(self) -> tuple[int, str] | None:
        try:
            seq, h = self.path.read_text().split()
            return int(seq), h
        except (OSError, ValueError):
            return None

    def advance(self, seq: int, h: str) -> None:
        """Move the head forward; called after the commit, so a failure here (a full disk) must not undo
        or hide what was committed: it is logged, and the head catches up at the next commit."""
        current = self.read()
        if current is not None and current[0] >= seq:
            return  # another writer recorded a newer event; the head never moves back
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            tmp.write_text(f"{seq} {h}\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            logging.getLogger("trust.store").error("could not move the audit head to event %d: %s", seq, exc)
            tmp.unlink(missing_ok=True)
