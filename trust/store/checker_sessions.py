"""Output checkers' web sessions: the ``checker_sessions`` table. Only a hash of each cookie is kept."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CheckerSession:
    user: str
    csrf: str
    expires: str
    secret: str | None = None  # only when the session is opened: it goes in the cookie


@dataclass(frozen=True)
class StoredSession:
    session: CheckerSession
    ended: str | None
    user_disabled: bool


class CheckerSessionStore(Protocol):
    def insert(self, id_sha256: str, user: str, csrf: str, created: str, expires: str) -> None: ...

    def find(self, id_sha256: str) -> StoredSession | None: ...

    def end(self, id_sha256: str, now: str) -> str | None: ...


class SqliteCheckerSessions:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def insert(self, id_sha256: str, user: str, csrf: str, created: str, expires: str) -> None:
        self.con.execute(
            "INSERT INTO checker_sessions (id_sha256, user_name, csrf, created, expires) VALUES (?,?,?,?,?)",
            (id_sha256, user, csrf, created, expires),
        )

    def find(self, id_sha256: str) -> StoredSession | None:
        row = self.con.execute(
            "SELECT s.user_name, s.csrf, s.expires, s.ended, u.disabled FROM checker_sessions s "
            "JOIN users u ON u.name = s.user_name WHERE s.id_sha256 = ?",
            (id_sha256,),
        ).fetchone()
        if row is None:
            return None
        return StoredSession(CheckerSession(row[0], row[1], row[2]), row[3], bool(row[4]))

    def end(self, id_sha256: str, now: str) -> str | None:
        """End a live session; the user it belonged to, or None if there was none."""
        row = self.con.execute(
            "SELECT user_name FROM checker_sessions WHERE id_sha256 = ? AND ended IS NULL", (id_sha256,)
        ).fetchone()
        if row is None:
            return None
        self.con.execute("UPDATE checker_sessions SET ended = ? WHERE id_sha256 = ?", (now, id_sha256))
        return str(row[0])
