"""Output checkers' web sessions: a bearer token in, an HttpOnly session cookie out.

A checker signs in to the pages once with their token; the trust answers with a random session
id (the cookie) and keeps only its SHA-256, with the session's CSRF token and expiry. Signing
out, or disabling the user, ends a session at its next request.
Storage only; the pages (``trust.server.checker``) reach it through the service layer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from trust.audit.log import AuditLog
from trust.store import Store

SESSION_HOURS = 8.0


@dataclass(frozen=True)
class CheckerSession:
    user: str
    csrf: str
    expires: str
    secret: str | None = None  # only when the session is opened: it goes in the cookie


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(store: Store, audit: AuditLog, user: str, *, hours: float = SESSION_HOURS) -> CheckerSession:
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    expires = (now + dt.timedelta(hours=hours)).isoformat(timespec="seconds")
    with store.transaction() as con:
        con.execute("INSERT INTO checker_sessions (id_sha256, user_name, csrf, created, expires) VALUES (?,?,?,?,?)",
                    (_hash(secret), user, csrf, now.isoformat(timespec="seconds"), expires))
        AuditLog.append_in(con, "checker_signed_in", user, None, expires=expires)
    audit.mark_head()
    return CheckerSession(user, csrf, expires, secret)


def find_session(store: Store, secret: str | None) -> CheckerSession | None:
    """The live session a cookie names, or None (unknown, ended, expired, or its user disabled)."""
    if not secret or len(secret) > 200:
        return None
    with store.connect() as con:
        row = con.execute(
            "SELECT s.user_name, s.csrf, s.expires, s.ended, u.disabled FROM checker_sessions s "
            "JOIN users u ON u.name = s.user_name WHERE s.id_sha256 = ?", (_hash(secret),)).fetchone()
    if row is None or row[3] is not None or row[4] or row[2] <= _now():
        return None
    return CheckerSession(row[0], row[1], row[2])


def end_session(store: Store, audit: AuditLog, secret: str) -> None:
    with store.transaction() as con:
        row = con.execute("SELECT user_name FROM checker_sessions WHERE id_sha256 = ? AND ended IS NULL",
                          (_hash(secret),)).fetchone()
        if row is None:
            return
        con.execute("UPDATE checker_sessions SET ended = ? WHERE id_sha256 = ?", (_now(), _hash(secret)))
        AuditLog.append_in(con, "checker_signed_out", row[0], None)
    audit.mark_head()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
