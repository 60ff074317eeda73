"""Append-only, hash-chained audit events (DESIGN section 9).

Each event stores the hash of the one before it; ``verify`` recomputes the chain and names the
first event that was edited, deleted or moved. Events are committed before the caller returns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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

    def append(self, kind: str, actor: str, project: str | None = None, **payload: Any) -> AuditEvent:
        text = canonical(payload)
        with self.store.transaction() as con:
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
        return True, f"{len(rows)} events, chain intact"
