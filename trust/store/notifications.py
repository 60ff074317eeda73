"""Notifications waiting to go out, and those that went (``notifications``), with the point up to which the
audit's release transitions have been turned into notifications (``notification_cursor``).

An outbox: a notification is stored, in the transaction that reads its event, before anything is
sent; delivery then marks it sent, or failed with when to try again. A crash between the two sends it
again at most once more, never loses it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Notification:
    id: int
    created: str
    event_seq: int  # the audit event it tells of
    request: str
    action: str  # submitted, returned, approved, rejected, released
    channel: str  # email or webhook
    recipient: str  # an e-mail address or a webhook URL
    payload: str  # JSON: what is said (subject, text, the webhook body)
    attempts: int
    next_attempt: str
    sent: str | None
    failed: str | None  # given up on: the last error is kept in ``error``
    error: str


class NotificationStore(Protocol):
    def cursor(self) -> int: ...

    def advance(self, seq: int) -> None: ...

    def add(
        self, *, created: str, event_seq: int, request: str, action: str, channel: str, recipient: str, payload: str
    ) -> int: ...

    def claim(self, now: str, lease_until: str, limit: int = 50) -> list[Notification]: ...

    def sent(self, notification_id: int, now: str) -> None: ...

    def retry(self, notification_id: int, error: str, next_attempt: str) -> None: ...

    def give_up(self, notification_id: int, error: str, now: str) -> None: ...

    def about(self, request: str) -> list[Notification]: ...


_COLUMNS = (
    "id, created, event_seq, request, action, channel, recipient, payload, attempts, next_attempt, sent, failed, error"
)


class SqliteNotifications:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def cursor(self) -> int:
        row = self.con.execute("SELECT seq FROM notification_cursor WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    def advance(self, seq: int) -> None:
        self.con.execute(
            "INSERT INTO notification_cursor (id, seq) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq "
            "WHERE excluded.seq > notification_cursor.seq",
            (seq,),
        )

    def add(
        self, *, created: str, event_seq: int, request: str, action: str, channel: str, recipient: str, payload: str
    ) -> int:
        cur = self.con.execute(
            "INSERT INTO notifications (created, event_seq, request, action, channel, recipient, payload, attempts, "
            "next_attempt, error) VALUES (?,?,?,?,?,?,?,0,?,'')",
            (created, event_seq, request, action, channel, recipient, payload, created),
        )
        return int(cur.lastrowid or 0)

    def claim(self, now: str, lease_until: str, limit: int = 50) -> list[Notification]:
        """Notifications due at ``now``, held until ``lease_until`` so no other process sends them meanwhile
        (call inside a write transaction)."""
        rows = self.con.execute(
            f"SELECT {_COLUMNS} FROM notifications WHERE sent IS NULL AND failed IS NULL AND next_attempt <= ? "
            "ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        self.con.executemany(
            "UPDATE notifications SET next_attempt = ? WHERE id = ?", [(lease_until, r[0]) for r in rows]
        )
        return [Notification(*r) for r in rows]

    def sent(self, notification_id: int, now: str) -> None:
        self.con.execute(
            "UPDATE notifications SET sent = ?, attempts = attempts + 1, error = '' WHERE id = ?",
            (now, notification_id),
        )

    def retry(self, notification_id: int, error: str, next_attempt: str) -> None:
        self.con.execute(
            "UPDATE notifications SET attempts = attempts + 1, error = ?, next_attempt = ? WHERE id = ?",
            (error, next_attempt, notification_id),
        )

    def give_up(self, notification_id: int, error: str, now: str) -> None:
        self.con.execute(
            "UPDATE notifications SET attempts = attempts + 1, error = ?, failed = ? WHERE id = ?",
            (error, now, notification_id),
        )

    def about(self, request: str) -> list[Notification]:
        rows = self.con.execute(f"SELECT {_COLUMNS} FROM notifications WHERE request = ? ORDER BY id", (request,))
        return [Notification(*r) for r in rows]
