"""Users and their bearer tokens: the ``users`` and ``tokens`` tables.

Only a SHA-256 of each token is kept (``token_sha256``); the secret itself is shown once, when issued.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class UserRecord:
    name: str
    roles: tuple[str, ...]
    organisation: str
    disabled: bool
    created: str
    email: str = ""  # where notifications of release requests go (trust.service.notify); empty: none


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    label: str
    created: str
    expires: str | None
    revoked: str | None
    secret: str | None = None  # only on the value a newly issued token returns, never stored

    def active(self, now: str) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > now)


@dataclass(frozen=True)
class TokenHolder:
    """Who a token hash belongs to, and whether either is still good."""

    user: str
    expires: str | None
    revoked: str | None
    user_disabled: bool


class UserStore(Protocol):
    def upsert(
        self, name: str, roles: Sequence[str], organisation: str, created: str, email: str | None = None
    ) -> None: ...

    def get(self, name: str) -> UserRecord | None: ...

    def list(self) -> list[UserRecord]: ...

    def disable(self, name: str, now: str) -> None: ...


class TokenStore(Protocol):
    def insert(self, token: Token, token_sha256: str) -> None: ...

    def list(self, user: str | None = None) -> list[Token]: ...

    def get(self, token_id: str) -> Token | None: ...

    def find(self, token_sha256: str) -> Token | None: ...

    def holder(self, token_sha256: str) -> TokenHolder | None: ...

    def revoke(self, token_id: str, now: str) -> None: ...


def _user(row: tuple[object, ...]) -> UserRecord:
    return UserRecord(
        str(row[0]), tuple(x for x in str(row[1]).split(",") if x), str(row[2]), bool(row[3]), str(row[4]), str(row[5])
    )


class SqliteUsers:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def upsert(
        self, name: str, roles: Sequence[str], organisation: str, created: str, email: str | None = None
    ) -> None:
        """Add a user, or update their roles and organisation (and e-mail address, when given) and enable them again."""
        self.con.execute(
            "INSERT INTO users (name, roles, organisation, created, email) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET roles = excluded.roles, organisation = excluded.organisation, disabled = 0, "
            "email = CASE WHEN ? IS NULL THEN users.email ELSE excluded.email END",
            (name, ",".join(roles), organisation, created, email or "", email),
        )

    def get(self, name: str) -> UserRecord | None:
        row = self.con.execute(
            "SELECT name, roles, organisation, disabled, created, email FROM users WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _user(row)

    def list(self) -> list[UserRecord]:
        rows = self.con.execute("SELECT name, roles, organisation, disabled, created, email FROM users ORDER BY name")
        return [_user(r) for r in rows]

    def disable(self, name: str, now: str) -> None:
        """Disable a user and revoke every token they hold."""
        self.con.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,))
        self.con.execute("UPDATE tokens SET revoked = ? WHERE user_name = ? AND revoked IS NULL", (now, name))


_TOKEN_SQL = "SELECT id, user_name, label, created, expires, revoked FROM tokens"


class SqliteTokens:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def insert(self, token: Token, token_sha256: str) -> None:
        self.con.execute(
            "INSERT INTO tokens (id, user_name, token_sha256, label, created, expires) VALUES (?,?,?,?,?,?)",
            (token.id, token.user, token_sha256, token.label, token.created, token.expires),
        )

    def list(self, user: str | None = None) -> list[Token]:
        where, args = (" WHERE user_name = ?", (user,)) if user else ("", ())
        return [Token(*r) for r in self.con.execute(_TOKEN_SQL + where + " ORDER BY created, id", args)]

    def get(self, token_id: str) -> Token | None:
        row = self.con.execute(_TOKEN_SQL + " WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else Token(*row)

    def find(self, token_sha256: str) -> Token | None:
        row = self.con.execute(_TOKEN_SQL + " WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return None if row is None else Token(*row)

    def holder(self, token_sha256: str) -> TokenHolder | None:
        row = self.con.execute(
            "SELECT t.user_name, t.expires, t.revoked, u.disabled FROM tokens t JOIN users u ON u.name = t.user_name "
            "WHERE t.token_sha256 = ?",
            (token_sha256,),
        ).fetchone()
        return None if row is None else TokenHolder(str(row[0]), row[1], row[2], bool(row[3]))

    def revoke(self, token_id: str, now: str) -> None:
        self.con.execute("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (now, token_id))
