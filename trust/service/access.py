"""Safe people and safe projects: users, their roles, bearer tokens, projects and who may see what.

A token is 256 random bits, shown once when issued (``trust tokens issue ana``); the trust keeps
only its SHA-256, so a copy of the state database lets nobody in. A plain hash is enough here (no
slow KDF) because the secret is random, not a password a person chose. Every way a token can fail
raises the same ``NotAuthenticated`` with the same message, except expiry: the holder of a token past
its date is told so and how to get a new one (nobody without the secret can learn it). Tokens expire
after ``token_lifetime_days`` (90) unless issued with another expiry, or explicitly with none.

Projects are policy data (``policies/data/projects.json``): purpose, legal gateway, datasets,
members and expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.errors import ConfigurationError, NotAuthenticated, NotAuthorised, TrustError, UnknownName, did_you_mean
from trust.policy.data import policy_data
from trust.store import StateStore, Token, UserRecord

ROLES = (
    "analyst",
    "output_checker",
    "policy_owner",
    "data_owner",
    "accredited_researcher",  # accredited under the Digital Economy Act 2017 research power (UK Statistics Authority)
    "admin",
)  # a data owner's organisation is their department
OVERSEERS = frozenset({"output_checker", "admin"})  # see every project's outputs and requests
TOKEN_PREFIX = "lmdt_"  # recognisable in a leaked-secret scan


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    organisation: str
    disabled: bool = False

    @property
    def oversees(self) -> bool:
        return bool(OVERSEERS & set(self.roles))


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Access:
    """Who is calling and what they may see."""

    def __init__(
        self, store: StateStore, audit: AuditLog, policies_dir: Path, *, token_lifetime_days: float = 90.0
    ) -> None:
        self.store, self.audit, self.policies_dir = store, audit, policies_dir
        if token_lifetime_days < 0:
            raise ConfigurationError(
                f"Setting 'token_lifetime_days' must be 0 (no expiry) or more days, got {token_lifetime_days:g}. "
                "Fix it in trust.toml or the TRUST_TOKEN_LIFETIME_DAYS environment variable."
            )
        self.token_lifetime_days = token_lifetime_days

    # -- users -----------------------------------------------------------------------------------
    def add_user(
        self, name: str, roles: Sequence[str], organisation: str, *, email: str | None = None, actor: str = "admin"
    ) -> User:
        """Add or update a user; ``email`` (where notifications of release requests go) is kept when not given."""
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise TrustError(f"Unknown role(s) {bad}; roles are {', '.join(ROLES)}.")
        if (
            email is not None
            and email
            and (email.count("@") != 1 or any(c.isspace() for c in email) or len(email) > 254)
        ):
            raise TrustError(f"{email!r} is not an e-mail address; give one like name@department.gov.uk.")
        with self.store.write() as tx:
            tx.users.upsert(name, tuple(roles), organisation, now(), email)
            self.audit.append(
                tx,
                EventKind.USER_ADDED,
                actor,
                None,
                user=name,
                roles=list(roles),
                organisation=organisation,
                **({"email": email} if email is not None else {}),
            )
        return User(name, tuple(roles), organisation)

    def user(self, name: str) -> User:
        """An enabled user; ``UnknownName`` (with a suggestion) or ``NotAuthorised`` if disabled."""
        with self.store.read() as tx:
            record = tx.users.get(name)
            if record is None:
                names = [u.name for u in tx.users.list()]
                raise UnknownName(
                    f"No user {name!r} is registered with the trust.{did_you_mean(name, names)}", user=name
                )
        if record.disabled:
            raise NotAuthorised(f"User {name!r} is disabled; ask an administrator.", user=name)
        return User(record.name, record.roles, record.organisation)

    def users(self) -> list[UserRecord]:
        with self.store.read() as tx:
            return tx.users.list()

    def disable_user(self, name: str, *, actor: str = "admin") -> None:
        """Disable a user and revoke every token they hold; ``trust users add`` enables them again."""
        with self.store.write() as tx:
            self._require(tx.users.get(name), name, tx.users.list())
            tx.users.disable(name, now())
            self.audit.append(tx, EventKind.USER_DISABLED, actor, None, user=name)

    @staticmethod
    def _require(found: UserRecord | None, name: str, known: Sequence[UserRecord]) -> None:
        if found is None:
            names = [u.name for u in known]
            raise UnknownName(f"No user {name!r} is registered with the trust.{did_you_mean(name, names)}", user=name)

    # -- tokens ----------------------------------------------------------------------------------
    def issue_token(
        self,
        user: str,
        *,
        label: str = "",
        expires_days: float | None = None,
        never_expires: bool = False,
        actor: str = "admin",
    ) -> Token:
        """A new token for ``user``; its secret is in the returned value and nowhere else.

        Without ``expires_days`` it expires after the ``token_lifetime_days`` setting (90 days unless
        set; 0 there means no expiry); a token that never expires must be asked for (``never_expires``)."""
        if never_expires and expires_days is not None:
            raise TrustError("Give an expiry in days or ask for a token that never expires, not both.")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = None
        if expires_days is None and not never_expires and self.token_lifetime_days > 0:
            expires_days = self.token_lifetime_days
        if expires_days is not None:
            expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)).isoformat(timespec="seconds")
        token = Token("tok-" + secrets.token_hex(4), user, label, now(), expires, None, secret)
        with self.store.write() as tx:
            self._require(tx.users.get(user), user, tx.users.list())
            tx.tokens.insert(token, token_hash(secret))
            self.audit.append(tx, EventKind.TOKEN_ISSUED, actor, None, user=user, token=token.id, expires=expires)
        return token

    def tokens(self, user: str | None = None) -> list[Token]:
        with self.store.read() as tx:
            return tx.tokens.list(user)

    def revoke_token(self, token: str, *, actor: str = "admin") -> Token:
        """Revoke by token id (``tok-…``) or by the secret itself. Revoking twice is harmless."""
        by_secret = token.startswith(TOKEN_PREFIX)
        with self.store.write() as tx:
            found = tx.tokens.find(token_hash(token)) if by_secret else tx.tokens.get(token)
            if found is None:
                raise UnknownName(
                    f"No token {'(secret given)' if by_secret else token} is known; `trust tokens list` shows the ids.",
                    token=None if by_secret else token,
                )
            tx.tokens.revoke(found.id, now())
            self.audit.append(tx, EventKind.TOKEN_REVOKED, actor, None, user=found.user, token=found.id)
            revoked = tx.tokens.get(found.id)
        assert revoked is not None
        return revoked

    def authenticate(self, secret: str | None) -> User:
        """The enabled user a bearer token belongs to; any failure at all is the same ``NotAuthenticated``."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            raise NotAuthenticated()
        with self.store.read() as tx:
            holder = tx.tokens.holder(token_hash(secret))
        if holder is None or holder.revoked is not None or holder.user_disabled:
            raise NotAuthenticated()
        if holder.expires is not None and holder.expires <= now():
            # Only the holder of the secret can learn this, and only that the token is past its date.
            raise NotAuthenticated(
                f"This token expired on {holder.expires.replace('T', ' ')}; ask an administrator for a new one "
                "(`trust tokens issue`)."
            )
        try:
            return self.user(holder.user)
        except TrustError:
            raise NotAuthenticated() from None

    # -- projects --------------------------------------------------------------------------------
    def projects(self) -> dict[str, dict[str, Any]]:
        """Every project: those in policy data, and those approved applications made (newest agreement wins)."""
        found = dict(policy_data(self.policies_dir).get("projects", {}))
        with self.store.read() as tx:
            found.update({p: a.spec for p, a in tx.agreements.current().items()})
        return found

    def agreements_version(self) -> int:
        with self.store.read() as tx:
            return tx.agreements.version()

    def project(self, project_id: str) -> dict[str, Any]:
        projects = self.projects()
        if project_id not in projects:
            raise UnknownName(
                f"No project {project_id!r} is registered.{did_you_mean(project_id, projects)}", project=project_id
            )
        return {"id": project_id, **projects[project_id]}

    def member_projects(self, user_name: str) -> dict[str, dict[str, Any]]:
        """The projects whose policy data lists ``user_name`` as a member."""
        return {pid: {"id": pid, **p} for pid, p in self.projects().items() if user_name in p.get("members", ())}

    def can_see_project(self, user: User, project_id: str) -> bool:
        """Members see their projects' outputs; output checkers and administrators see every project's."""
        return user.oversees or project_id in self.member_projects(user.name)

    def check_can_see_project(self, user: User, project_id: str, **detail: Any) -> None:
        if not self.can_see_project(user, project_id):
            self.audit.record(EventKind.ACCESS_DENIED, user.name, project_id, what="project", **detail)
            raise NotAuthorised(
                f"You are not a member of project {project_id}; ask the project lead to add you.", project=project_id
            )

    def visible_projects(self, user: User, project: str | None = None) -> list[str] | None:
        """The projects whose records ``user`` may list: just ``project`` (checked), all (None), or theirs."""
        if project is not None:
            self.project(project)
            self.check_can_see_project(user, project)
            return [project]
        return None if user.oversees else list(self.member_projects(user.name))
