"""The trust's own state: the only place that writes SQL against it (DESIGN section 3).

One module per aggregate, each a small ``Protocol`` the business layer depends on and its SQLite
implementation: ``outputs``, ``releases``, ``populations`` (for differencing), ``users`` (users and
tokens), ``checker_sessions``, ``secrets``, ``datasets`` (versions of the data read in place),
``idempotency``, ``notifications`` (the outbox), ``agreements`` (applications and the projects they
become) and ``audit`` (the event rows; the chain is ``trust.audit``).
``Store.write()`` is one transaction over all of them, so an output, its audit event and its
populations, or a release transition and its event, commit together or not at all
(``trust.service.queries.Queries.record`` and ``trust.service.airlock.set_status``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from trust.store.agreements import (
    AgreementStore,
    SqliteAgreements,
    StoredAgreement,
    StoredApplication,
    StoredDecision,
)
from trust.store.audit import AuditHead, AuditRecord, AuditStore, SqliteAudit
from trust.store.checker_sessions import CheckerSession, CheckerSessionStore, SqliteCheckerSessions, StoredSession
from trust.store.database import Database
from trust.store.datasets import DatasetStore, SqliteDatasets
from trust.store.idempotency import IdempotencyStore, Remembered, SqliteIdempotency
from trust.store.notifications import Notification, NotificationStore, SqliteNotifications
from trust.store.outputs import OutputStore, SqliteOutputs
from trust.store.populations import PopulationStore, SqlitePopulations
from trust.store.releases import ReleaseStore, SqliteReleases
from trust.store.secrets import SecretStore, SqliteSecrets
from trust.store.users import SqliteTokens, SqliteUsers, Token, TokenHolder, TokenStore, UserRecord, UserStore

__all__ = [
    "AgreementStore",
    "AuditRecord",
    "AuditStore",
    "CheckerSession",
    "CheckerSessionStore",
    "DatasetStore",
    "IdempotencyStore",
    "Notification",
    "NotificationStore",
    "OutputStore",
    "PopulationStore",
    "Records",
    "Remembered",
    "ReleaseStore",
    "StateStore",
    "Store",
    "StoredAgreement",
    "StoredApplication",
    "StoredDecision",
    "StoredSession",
    "Token",
    "TokenHolder",
    "TokenStore",
    "UserRecord",
    "UserStore",
]


@dataclass(frozen=True)
class Records:
    """Every aggregate, over one connection: one transaction when it came from ``Store.write()``."""

    outputs: OutputStore
    releases: ReleaseStore
    populations: PopulationStore
    users: UserStore
    tokens: TokenStore
    checker_sessions: CheckerSessionStore
    audit: AuditStore
    secrets: SecretStore
    datasets: DatasetStore
    idempotency: IdempotencyStore
    notifications: NotificationStore
    agreements: AgreementStore

    @classmethod
    def over(cls, con: sqlite3.Connection) -> Records:
        return cls(
            SqliteOutputs(con),
            SqliteReleases(con),
            SqlitePopulations(con),
            SqliteUsers(con),
            SqliteTokens(con),
            SqliteCheckerSessions(con),
            SqliteAudit(con),
            SqliteSecrets(con),
            SqliteDatasets(con),
            SqliteIdempotency(con),
            SqliteNotifications(con),
            SqliteAgreements(con),
        )


class StateStore(Protocol):
    """What the business layer needs of storage (as OpenSAFELY Airlock's ``DataAccessLayerProtocol``)."""

    def read(self) -> AbstractContextManager[Records]: ...

    def write(self) -> AbstractContextManager[Records]: ...

    def audit_head(self) -> tuple[int, str] | None: ...


class Store:
    """The SQLite store at ``path`` (``$TRUST_HOME/state.db``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.database = Database(path)
        self.head = AuditHead(path)

    @contextmanager
    def read(self) -> Iterator[Records]:
        yield Records.over(self.database.connection())

    @contextmanager
    def write(self) -> Iterator[Records]:
        """One write transaction; committed when the block ends, rolled back if it raises."""
        with self.database.transaction() as con:
            records = Records.over(con)
            yield records
        appended = records.audit.appended if isinstance(records.audit, SqliteAudit) else []
        if appended:
            self.head.advance(*appended[-1])

    def audit_head(self) -> tuple[int, str] | None:
        return self.head.read()
