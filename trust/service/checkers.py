"""Output checkers' web sessions: a bearer token (or an OpenID Connect sign-in) in, an HttpOnly session cookie out.

A checker signs in to the pages once with their token, or through their organisation's OpenID
Connect provider (``trust.server.oidc`` checks the ID token, ``user_for_claims`` names the user); the trust answers with a random session
id (the cookie) and keeps only its SHA-256, with the session's CSRF token and expiry. Signing
out, or disabling the user, ends a session at its next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.errors import NotAuthorised, TrustError
from trust.service.access import Access, User, now
from trust.store import CheckerSession, StateStore
from trust.store.users import UserRecord

__all__ = ["SESSION_HOURS", "CheckerSession", "CheckerSessions", "user_for_claims"]

SESSION_HOURS = 8.0
CHECKER_ROLE = "output_checker"
DATA_OWNER_ROLE = "data_owner"
APPLICANT_ROLE = "analyst"
# Who signs in to the pages: output checkers (release requests), data owners (decisions on applications)
# and analysts (their own applications; never release requests' figures, which are for checkers only).
PAGE_ROLES = frozenset({CHECKER_ROLE, DATA_OWNER_ROLE, APPLICANT_ROLE})


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CheckerSessions:
    def __init__(self, store: StateStore, audit: AuditLog, access: Access) -> None:
        self.store, self.audit, self.access = store, audit, access

    def open(self, token: str | None, *, hours: float = SESSION_HOURS) -> CheckerSession:
        """Sign an output checker in with their bearer token; the session's secret goes in a cookie."""
        return self._open(self.access.authenticate(token), hours, method="token")

    def open_for(self, name: str, *, hours: float = SESSION_HOURS, **how: str) -> CheckerSession:
        """Open a session for a user someone else has authenticated (an OpenID Connect provider):
        ``how`` says who and how (``method="oidc", issuer=...``) and goes in the audit event."""
        try:
            user = self.access.user(name)
        except TrustError:
            self.audit.record(EventKind.ACCESS_DENIED, name, None, what="checker_pages", **how)
            raise NotAuthorised(f"The trust's user {name!r} is disabled or removed; ask an administrator.") from None
        return self._open(user, hours, **how)

    def _open(self, user: User, hours: float, **how: str) -> CheckerSession:
        if not PAGE_ROLES & set(user.roles):
            self.audit.record(EventKind.ACCESS_DENIED, user.name, None, what="checker_pages", **how)
            raise NotAuthorised(
                f"Only output checkers, data owners and analysts sign in to these pages; {user.name} is none of them."
            )
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        started = dt.datetime.now(dt.UTC)
        expires = (started + dt.timedelta(hours=hours)).isoformat(timespec="seconds")
        with self.store.write() as tx:
            tx.checker_sessions.insert(_hash(secret), user.name, csrf, started.isoformat(timespec="seconds"), expires)
            self.audit.append(tx, EventKind.CHECKER_SIGNED_IN, user.name, None, expires=expires, **how)
        return CheckerSession(user.name, csrf, expires, secret)

    def user_for_claims(self, claims: Mapping[str, Any], claim: str, *, issuer: str) -> str:
        """The trust user an ID token's ``claim`` names; refused (and audited) when it names none."""
        try:
            return user_for_claims(claims, claim, self.access.users())
        except NotAuthorised:
            who = str(claims.get(claim) or claims.get("sub") or "anonymous")[:200]
            self.audit.record(EventKind.ACCESS_DENIED, who, None, what="checker_pages", method="oidc", issuer=issuer)
            raise

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
        return (user, found.session) if PAGE_ROLES & set(user.roles) else None

    def close(self, secret: str) -> None:
        with self.store.write() as tx:
            user = tx.checker_sessions.end(_hash(secret), now())
            if user is not None:
                self.audit.append(tx, EventKind.CHECKER_SIGNED_OUT, user, None)

    def refuse_csrf(self, who: str, path: str, why: str, origin: str | None) -> None:
        """Record a form post refused as forged (wrong origin or CSRF token)."""
        self.audit.record(EventKind.CSRF_REFUSED, who, None, path=path, why=why, origin=origin)


def user_for_claims(claims: Mapping[str, Any], claim: str, users: Sequence[UserRecord]) -> str:
    """The name of the trust user an ID token's ``claim`` names: ``email`` matches users' e-mail
    addresses (ignoring case; refused if the provider says the address is unverified), any other
    claim (``preferred_username``) matches user names exactly.

    >>> from trust.store.users import UserRecord
    >>> carol = UserRecord("carol", ("output_checker",), "ONS", False, "2026-01-01", "Carol@ons.example")
    >>> user_for_claims({"email": "carol@ons.example"}, "email", [carol])
    'carol'
    """
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise NotAuthorised(
            f"Your organisation's sign-in did not say your {claim}, which the trust uses to know who you are; "
            "ask an administrator to check the trust's oidc_user_claim setting."
        )
    value = value.strip()
    if claim == "email":
        if claims.get("email_verified") is False:
            raise NotAuthorised(
                f"Your organisation's sign-in says the e-mail address {value} is not verified; verify it there first."
            )
        found = [u for u in users if u.email and u.email.lower() == value.lower()]
    else:
        found = [u for u in users if u.name == value]
    if len(found) != 1:
        what = "e-mail address" if claim == "email" else claim
        why = "more than one" if found else "no"
        raise NotAuthorised(
            f"{why.capitalize()} trust user has the {what} {value!r}, so you cannot sign in with it; ask an "
            "administrator to register you (`trust users add NAME --organisation ORG --email ADDRESS`)."
        )
    return found[0].name
