"""Append-only, hash-chained audit events (DESIGN section 9).

Each event stores the hash of the one before it; ``verify`` recomputes the chain and names the
first event that was edited, deleted or moved. Events are committed before the caller returns.

A chain alone cannot show that its newest events were deleted, so the newest event's number and
hash are also kept outside the database (``state.db.audit-head``), written after each commit and
never moved back; ``verify`` checks the log still reaches that event. (Restoring a backup on
purpose means deleting that file too. Published transparency reports carry the head as well.)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trust.store import Store

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: str
    kind: str
    actor: str
    project: str | None
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str


def _digest(seq: int, ts: str, kind: str, actor: str, project: str | None, payload: str, prev: str) -> str:
    body = json.dumps([seq, ts, kind, actor, project, payload, prev], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def head_path(self) -> Path:
        return self.store.path.with_name(self.store.path.name + ".audit-head")

    def append(self, kind: str, actor: str, project: str | None = None, **payload: Any) -> AuditEvent:
        with self.store.transaction() as con:
            event = self.append_in(con, kind, actor, project, **payload)
        self._write_head(event.seq, event.hash)
        return event

    def mark_head(self) -> None:
        """Record the newest committed event as the head; call after a transaction that used ``append_in``."""
        with self.store.connect() as con:
            last = con.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        if last is not None:
            self._write_head(int(last[0]), str(last[1]))

    def _read_head(self) -> tuple[int, str] | None:
        try:
            seq, h = self.head_path.read_text().split()
            return int(seq), h
        except (OSError, ValueError):
            return None

    def _write_head(self, seq: int, h: str) -> None:
        current = self._read_head()
        if current is not None and current[0] >= seq:
            return  # another writer recorded a newer event; the head never moves back
        tmp = self.head_path.with_name(f"{self.head_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(f"{seq} {h}\n")
        os.replace(tmp, self.head_path)

    @staticmethod
    def append_in(con: sqlite3.Connection, kind: str, actor: str, project: str | None = None,
                  **payload: Any) -> AuditEvent:
        """Append inside the caller's open write transaction, so a change and its event commit together."""
        text = canonical(payload)
        last = con.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        h = _digest(seq, ts, kind, actor, project, text, prev)
        con.execute(
            "INSERT INTO audit_events (seq, ts, kind, actor, project, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
            (seq, ts, kind, actor, project, text, prev, h),
        )
        return AuditEvent(seq, ts, kind, actor, project, payload, prev, h)

    def events(self, *, kind: str | None = None) -> list[AuditEvent]:
        with self.store.connect() as con:
            sql = "SELECT seq, ts, kind, actor, project, payload, prev_hash, hash FROM audit_events"
            rows = con.execute(sql + (" WHERE kind = ?" if kind else "") + " ORDER BY seq", (kind,) if kind else ()).fetchall()
        return [AuditEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def verify(self) -> tuple[bool, str]:
        """(True, summary) when the chain is intact; else (False, the first broken event)."""
        with self.store.connect() as con:
            rows = con.execute(
                "SELECT seq, ts, kind, actor, project, payload, prev_hash, hash FROM audit_events ORDER BY seq"
            ).fetchall()
        prev, expected_seq = GENESIS, 1
        for seq, ts, kind, actor, project, payload, prev_hash, h in rows:
            if seq != expected_seq:
                return False, f"event {expected_seq} is missing (found {seq} next): events were deleted or reordered"
            if prev_hash != prev:
                return False, f"event {seq} ({kind}) does not follow event {seq - 1}: the chain was broken there"
            if _digest(seq, ts, kind, actor, project, payload, prev_hash) != h:
                return False, f"event {seq} ({kind}) was edited after it was written"
            prev, expected_seq = h, seq + 1
        head = self._read_head()
        if head is not None and head[0] > len(rows):
            return False, (f"event {len(rows) + 1} is missing: the log ends at event {len(rows)} but events up to "
                           f"{head[0]} were written: events were deleted from the end")
        if head is not None and rows[head[0] - 1][7] != head[1]:
            return False, (f"event {head[0]} ({rows[head[0] - 1][2]}) is not the event written there: "
                           "the log was rewritten up to it")
        return True, f"{len(rows)} events, chain intact"
