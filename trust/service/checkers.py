"""Output checkers' web sessions: a bearer token in, an HttpOnly session cookie out.

A checker signs in to the pages once with their token; the trust answers with a random session
id (the cookie) and keeps only its SHA-256, with the session's CSRF token and expiry. Signing
out, or disabling the user, ends a session at its next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.errors import NotAuthorised, TrustError
from trust.service.access import Access, User, now
from trust.store import CheckerSession, StateStore

__all__ = ["SESSION_HOURS", "CheckerSession", "CheckerSessions"]

SESSION_HOURS = 8.0
CHECKER_ROLE = "output_checker"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CheckerSessions:
    def __init__(self, store: StateStore, audit: AuditLog, access: Access) -> None:
        self.store, self.audit, self.access = store, audit, access

    def open(self, token: str | None, *, hours: float = SESSION_HOURS) -> CheckerSession:
        """Sign an output checker in with their bearer token; the session's secret goes in a cookie."""
        user = self.access.authenticate(token)
        if CHECKER_ROLE not in user.roles:
            self.audit.record(EventKind.ACCESS_DENIED, user.name, None, what="checker_pages")
            raise NotAuthorised(f"Only output checkers sign in to these pages; {user.name} is not one.")
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        started = dt.datetime.now(dt.UTC)
        expires = (started + dt.timedelta(hours=hours)).isoformat(timespec="seconds")
        with self.store.write() as tx:
            tx.checker_sessions.insert(_hash(secret), user.name, csrf, started.isoformat(timespec="seconds"), expires)
            self.audit.append(tx, EventKind.CHECKER_SIGNED_IN, user.name, None, expires=expires)
        return CheckerSession(user.name, csrf, expires, secret)

    def find(self, secret: str | None) -> tuple[User, CheckerSession] | None:
        """The signed-in checker and their session, or None (unknown, ended, expired, or not a checker now)."""
        if not secret or len(secret) > 200:
            return None
        with self.store.read() as tx:
            found = tx.checker_sessions.find(_hash(secret))
        if found is None or found.ended is not None or found.user_disabled or found.session.expires <= now():
            return None
        try:
            user = self.access.user(found.session.user)
        except TrustError:
            return None
        return (user, found.session) if CHECKER_ROLE in user.roles else None

    def close(self, secret: str) -> None:
        with self.store.write() as tx:
            user = tx.checker_sessions.end(_hash(secret), now())
            if user is not None:
                self.audit.append(tx, EventKind.CHECKER_SIGNED_OUT, user, None)

    def refuse_csrf(self, who: str, path: str, why: str, origin: str | None) -> None:
        """Record a form post refused as forged (wrong origin or CSRF token)."""
        self.audit.record(EventKind.CSRF_REFUSED, who, None, path=path, why=why, origin=origin)
