"""Who is calling: users, their roles, and the bearer tokens the server accepts.

A token is 256 random bits, shown once when issued (``trust tokens issue ana``); the trust keeps
only its SHA-256, so a copy of the state database lets nobody in. A plain hash is enough here
(no slow KDF) because the secret is random, not a password a person chose.

    >>> token = issue_token(store, audit, "ana")       # doctest: +SKIP
    >>> authenticate(store, token.secret)              # doctest: +SKIP
    'ana'

Every way a token can fail (missing, malformed, unknown, revoked, expired) raises the same
``NotAuthenticated`` with the same message, so a caller learns nothing about which it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from trust.audit.log import AuditLog
from trust.errors import NotAuthorised, UnknownName, did_you_mean
from trust.store import Store

TOKEN_PREFIX = "lmdt_"  # recognisable in a leaked-secret scan
UNAUTHENTICATED = "Authentication required: send a valid bearer token (ask an administrator for one)."


class NotAuthenticated(NotAuthorised):
    """No valid bearer token came with the request (HTTP 401)."""

    http_status = 401
    code = "not_authenticated"

    def __init__(self, message: str = UNAUTHENTICATED) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class UserRecord:
    name: str
    roles: tuple[str, ...]
    organisation: str
    disabled: bool
    created: str


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    label: str
    created: str
    expires: str | None
    revoked: str | None
    secret: str | None = None  # only on the value ``issue_token`` returns, never stored

    @property
    def active(self) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > _now())


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def list_users(store: Store) -> list[UserRecord]:
    with store.connect() as con:
        rows = con.execute("SELECT name, roles, organisation, disabled, created FROM users ORDER BY name").fetchall()
    return [UserRecord(r[0], tuple(x for x in r[1].split(",") if x), r[2], bool(r[3]), r[4]) for r in rows]


def _require_user(store: Store, name: str) -> None:
    names = [u.name for u in list_users(store)]
    if name not in names:
        raise UnknownName(f"No user {name!r} is registered with the trust.{did_you_mean(name, names)}", user=name)


def disable_user(store: Store, audit: AuditLog, name: str, *, actor: str = "admin") -> None:
    """Disable a user and revoke every token they hold; ``trust users add`` enables them again."""
    _require_user(store, name)
    with store.transaction() as con:
        con.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,))
        con.execute("UPDATE tokens SET revoked = ? WHERE user_name = ? AND revoked IS NULL", (_now(), name))
    audit.append("user_disabled", actor, None, user=name)


def issue_token(store: Store, audit: AuditLog, user: str, *, label: str = "", expires_days: float | None = None,
                actor: str = "admin") -> Token:
    """A new token for ``user``; its secret is in the returned value and nowhere else."""
    _require_user(store, user)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok-" + secrets.token_hex(4)
    created = _now()
    expires = None
    if expires_days is not None:
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)).isoformat(timespec="seconds")
    with store.transaction() as con:
        con.execute(
            "INSERT INTO tokens (id, user_name, token_sha256, label, created, expires) VALUES (?,?,?,?,?,?)",
            (token_id, user, token_hash(secret), label, created, expires),
        )
    audit.append("token_issued", actor, None, user=user, token=token_id, expires=expires)
    return Token(token_id, user, label, created, expires, None, secret)


def list_tokens(store: Store, user: str | None = None) -> list[Token]:
    sql = "SELECT id, user_name, label, created, expires, revoked FROM tokens"
    with store.connect() as con:
        rows = con.execute(sql + (" WHERE user_name = ?" if user else "") + " ORDER BY created, id",
                           (user,) if user else ()).fetchall()
    return [Token(*r) for r in rows]


def revoke_token(store: Store, audit: AuditLog, token: str, *, actor: str = "admin") -> Token:
    """Revoke by token id (``tok-…``) or by the secret itself. Revoking twice is harmless."""
    where, key = ("token_sha256", token_hash(token)) if token.startswith(TOKEN_PREFIX) else ("id", token)
    with store.transaction() as con:
        row = con.execute(f"SELECT id, user_name, label, created, expires, revoked FROM tokens WHERE {where} = ?",
                          (key,)).fetchone()
        if row is None:
            raise UnknownName(f"No token {token if where == 'id' else '(secret given)'} is known; "
                              "`trust tokens list` shows the ids.", token=token if where == "id" else None)
        if row[5] is None:
            con.execute("UPDATE tokens SET revoked = ? WHERE id = ?", (_now(), row[0]))
    audit.append("token_revoked", actor, None, user=row[1], token=row[0])
    return token_by_id(store, row[0])


def token_by_id(store: Store, token_id: str) -> Token:
    with store.connect() as con:
        row = con.execute("SELECT id, user_name, label, created, expires, revoked FROM tokens WHERE id = ?",
                          (token_id,)).fetchone()
    if row is None:
        raise UnknownName(f"No token {token_id} is known.", token=token_id)
    return Token(*row)


def authenticate(store: Store, secret: str | None) -> str:
    """The user name a token belongs to, or ``NotAuthenticated`` for any failure at all."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise NotAuthenticated()
    with store.connect() as con:
        row = con.execute(
            "SELECT t.user_name, t.expires, t.revoked, u.disabled FROM tokens t JOIN users u ON u.name = t.user_name "
            "WHERE t.token_sha256 = ?", (token_hash(secret),)).fetchone()
    if row is None or row[2] is not None or (row[1] is not None and row[1] <= _now()) or row[3]:
        raise NotAuthenticated()
    return str(row[0])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
