"""Append-only, hash-chained audit events (DESIGN section 9).

Each event stores the hash of the one before it; ``verify`` recomputes the chain and names the
first event that was edited, deleted or moved. Events are committed before the caller returns,
in the same transaction as the change they record (``append(tx, ...)``), or alone (``record``).

A chain alone cannot show that its newest events were deleted, so the newest event's number and
hash are also kept outside the database (``trust.store.audit.AuditHead``); ``verify`` checks the
log still reaches that event. (Restoring a backup on purpose means deleting that file too.
Published transparency reports carry the head as well.)

Only the service layer writes events (``trust.service``); kinds are ``EventKind``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trust.audit.kinds import EventKind
from trust.store import Records, StateStore
from trust.store.audit import AuditQuery, AuditRecord

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

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEvent:
        return cls(
            record.seq,
            record.ts,
            record.kind,
            record.actor,
            record.project,
            json.loads(record.payload),
            record.prev_hash,
            record.hash,
        )


def _digest(seq: int, ts: str, kind: str, actor: str, project: str | None, payload: str, prev: str) -> str:
    body = json.dumps([seq, ts, kind, actor, project, payload, prev], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


class AuditLog:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def record(self, kind: EventKind, actor: str, project: str | None = None, **payload: Any) -> AuditEvent:
        """One event in a transaction of its own."""
        with self.store.write() as tx:
            return self.append(tx, kind, actor, project, **payload)

    @staticmethod
    def append(tx: Records, kind: EventKind, actor: str, project: str | None = None, **payload: Any) -> AuditEvent:
        """Append inside the caller's open write transaction, so a change and its event commit together."""
        kind = EventKind(kind)  # a kind that is not in the enum is a bug, not a new kind
        text = canonical(payload)
        last = tx.audit.last()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        record = AuditRecord(
            seq, ts, kind.value, actor, project, text, prev, _digest(seq, ts, kind.value, actor, project, text, prev)
        )
        tx.audit.insert(record)
        return AuditEvent(seq, ts, kind.value, actor, project, payload, prev, record.hash)

    def events(self, *, kind: EventKind | str | None = None) -> list[AuditEvent]:
        with self.store.read() as tx:
            return [AuditEvent.of(r) for r in tx.audit.all(kind=EventKind(kind).value if kind else None)]

    def search(self, query: AuditQuery) -> list[AuditEvent]:
        """The newest events matching ``query``, newest first (``trust audit show|search``). It only
        reads: nothing is written, so reading the trail leaves its chain and head as they were."""
        with self.store.read() as tx:
            return [AuditEvent.of(r) for r in tx.audit.search(query)]

    def verify(self) -> tuple[bool, str]:
        """(True, summary) when the chain is intact; else (False, the first broken event)."""
        with self.store.read() as tx:
            rows = tx.audit.all()
        prev, expected_seq = GENESIS, 1
        for r in rows:
            if r.seq != expected_seq:
                return False, f"event {expected_seq} is missing (found {r.seq} next): events were deleted or reordered"
            if r.prev_hash != prev:
                return False, f"event {r.seq} ({r.kind}) does not follow event {r.seq - 1}: the chain was broken there"
            if _digest(r.seq, r.ts, r.kind, r.actor, r.project, r.payload, r.prev_hash) != r.hash:
                return False, f"event {r.seq} ({r.kind}) was edited after it was written"
            prev, expected_seq = r.hash, r.seq + 1
        head = self.store.audit_head()
        if head is not None and head[0] > len(rows):
            return False, (
                f"event {len(rows) + 1} is missing: the log ends at event {len(rows)} but events up to "
                f"{head[0]} were written: events were deleted from the end"
            )
        if head is not None and rows[head[0] - 1].hash != head[1]:
            return False, (
                f"event {head[0]} ({rows[head[0] - 1].kind}) is not the event written there: "
                "the log was rewritten up to it"
            )
        return True, f"{len(rows)} events, chain intact"
