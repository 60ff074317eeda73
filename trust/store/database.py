"""The SQLite database behind the trust's own state (WAL mode): connections and migrations.

Migrations are a list applied in order and recorded in ``schema_version``; the schema only
moves forward. Connections are per thread; writes are committed before a caller is answered.
Only the modules of ``trust.store`` use this; everything above reaches state through ``Store``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trust.errors import StorageFailed

log = logging.getLogger("trust.store")

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        roles TEXT NOT NULL,            -- comma-separated
        organisation TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    );
    CREATE TABLE outputs (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        project TEXT NOT NULL,
        created TEXT NOT NULL,
        sql TEXT NOT NULL,
        executed_sql TEXT NOT NULL,
        decision TEXT NOT NULL,          -- JSON
        report TEXT NOT NULL,            -- JSON, with checkers' figures
        fingerprints TEXT NOT NULL,      -- JSON {dataset: fingerprint}
        table_ipc BLOB NOT NULL          -- the protected table, Arrow IPC
    );
    CREATE INDEX outputs_by_project ON outputs(project, created);
    CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        project TEXT,
        payload TEXT NOT NULL,           -- canonical JSON
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 2: bearer tokens for the server. Only a SHA-256 of each token is kept; the token itself is
    # shown once, when issued.
    """
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,             -- public handle, e.g. tok-1a2b3c4d, for listing and revoking
        user_name TEXT NOT NULL REFERENCES users(name),
        token_sha256 TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        expires TEXT,                    -- ISO timestamp, or NULL for no expiry
        revoked TEXT                     -- ISO timestamp once revoked
    );
    CREATE INDEX tokens_by_user ON tokens(user_name);
    """,
    # 3: the population fingerprint of each shown cell, so a later output of the same project
    # that differs from it by a few units is caught (trust/sdc/differencing.py).
    """
    CREATE TABLE cell_populations (
        project TEXT NOT NULL,
        output_id TEXT NOT NULL,
        row_index INTEGER NOT NULL,
        family TEXT NOT NULL,            -- unit and statistic, e.g. person_id:count
        scheme TEXT NOT NULL,            -- sketch scheme and engine hash canary; only equal schemes compare
        units INTEGER NOT NULL,          -- distinct units in the cell
        sketch BLOB NOT NULL,            -- invertible Bloom lookup table of the units' hashes
        PRIMARY KEY (output_id, row_index, family)
    );
    CREATE INDEX cell_populations_lookup ON cell_populations(project, scheme, family, units);
    """,
    # 4: the airlock (trust/outputs/release.py): release requests, the outputs each bundles, the output
    # checkers' reviews, and the checkers' web sessions (trust/service/checkers.py).
    """
    CREATE TABLE release_requests (
        id TEXT PRIMARY KEY,             -- rel-1a2b3c4d5e6f
        author TEXT NOT NULL REFERENCES users(name),
        project TEXT NOT NULL,
        justification TEXT NOT NULL,
        state TEXT NOT NULL,             -- trust.outputs.release.ReleaseState
        round INTEGER NOT NULL DEFAULT 1,  -- one more each time a returned request is resubmitted
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        idempotency_key TEXT,            -- the author's: a retried request joins the first
        bundle_sha256 TEXT,              -- SHA-256 of the released bundle's manifest
        UNIQUE (author, idempotency_key)
    );
    CREATE INDEX release_requests_by_state ON release_requests(state, updated);
    CREATE TABLE release_outputs (
        request_id TEXT NOT NULL REFERENCES release_requests(id),
        output_id TEXT NOT NULL REFERENCES outputs(id),
        position INTEGER NOT NULL,
        cell_reasons TEXT NOT NULL DEFAULT '{}',  -- JSON {"ROW:COLUMN": reason} for cells in review
        PRIMARY KEY (request_id, output_id)
    );
    CREATE TABLE release_reviews (
        request_id TEXT NOT NULL REFERENCES release_requests(id),
        round INTEGER NOT NULL,
        reviewer TEXT NOT NULL REFERENCES users(name),
        output_id TEXT NOT NULL,
        decision TEXT NOT NULL,          -- approve | reject | changes
        comment TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (request_id, round, reviewer, output_id)
    );
    CREATE TABLE checker_sessions (
        id_sha256 TEXT PRIMARY KEY,      -- only a hash of the cookie is kept
        user_name TEXT NOT NULL REFERENCES users(name),
        csrf TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT NOT NULL,
        ended TEXT
    );
    """,
    # 5: what defined each stored cell (trust/sdc/differencing.py): the same people reached by another
    # definition must look like a few people between the two, or the difference "none" would show.
    """
    ALTER TABLE cell_populations ADD COLUMN definition TEXT NOT NULL DEFAULT '';
    """,
    # 6: the trust's own secrets (trust/store/secrets.py): the record-key secret of the cell key method,
    # created on first start. Never in a result, a log, an export or an error.
    """
    CREATE TABLE trust_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created TEXT NOT NULL
    );
    """,
    # 7: versions of the data read in place (trust/store/datasets.py): each accepted state of a dataset
    # at its department, the datasets found changed since, and the versions each output read.
    """
    CREATE TABLE dataset_versions (
        id TEXT PRIMARY KEY,             -- dwp.uc_claims@2
        dataset TEXT NOT NULL,
        number INTEGER NOT NULL,
        created TEXT NOT NULL,
        accepted_by TEXT NOT NULL,       -- 'registration' for the first, else the data owner who accepted it
        manifest TEXT NOT NULL,          -- JSON: files (url, size, etag, rows, footer hash) and column types
        manifest_sha256 TEXT NOT NULL,
        superseded TEXT,                 -- when the next version replaced it
        UNIQUE (dataset, number)
    );
    CREATE TABLE dataset_changes (
        dataset TEXT PRIMARY KEY,
        version TEXT NOT NULL REFERENCES dataset_versions(id),
        found TEXT NOT NULL,
        changes TEXT NOT NULL,           -- JSON list of what differs
        observed_sha256 TEXT NOT NULL    -- the state found, so the same change is recorded once
    );
    ALTER TABLE outputs ADD COLUMN versions TEXT NOT NULL DEFAULT '{}';  -- JSON {dataset: version id}
    """,
    # 8: idempotency keys of the POSTs that create (trust/store/idempotency.py): queries and reviews (release
    # requests keep theirs on the request), each committed with what it made.
    """
    CREATE TABLE idempotency_keys (
        user_name TEXT NOT NULL,
        key TEXT NOT NULL,
        route TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        result TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (user_name, key)
    );
    """,
    # 9: the newest event about an output, a release request or a dataset version, found at once: each
    # records the hash of the state it left, which the trust compares before acting (trust.service.integrity).
    """
    CREATE INDEX audit_events_output ON audit_events(json_extract(payload, '$.output'), seq);
    CREATE INDEX audit_events_request ON audit_events(json_extract(payload, '$.request'), seq);
    CREATE INDEX audit_events_version ON audit_events(json_extract(payload, '$.version'), seq);
    """,
    # 10: which engine ran each output (trust.engine.base): DuckDB for every output made before there was a choice.
    """
    ALTER TABLE outputs ADD COLUMN engine TEXT NOT NULL DEFAULT 'duckdb';
    """,
    # 11: notifications of release requests (trust/store/notifications.py): the outbox, the audit event up to
    # which transitions have been turned into notifications, and the users' e-mail addresses they go to.
    """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        created TEXT NOT NULL,
        event_seq INTEGER NOT NULL,      -- the release_transition audit event it tells of
        request TEXT NOT NULL,
        action TEXT NOT NULL,
        channel TEXT NOT NULL,           -- email or webhook
        recipient TEXT NOT NULL,
        payload TEXT NOT NULL,           -- JSON: subject, text and the webhook body
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        sent TEXT,
        failed TEXT,                     -- given up on
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX notifications_due ON notifications(next_attempt) WHERE sent IS NULL AND failed IS NULL;
    CREATE INDEX notifications_request ON notifications(request);
    CREATE TABLE notification_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
    ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
    """,
    # 12: a release request's rounds (what each asked the checkers to review, for the diff between rounds),
    # threaded comments on a request, an output or a cell, and the output a corrected one replaces.
    """
    ALTER TABLE release_outputs ADD COLUMN replaces TEXT;  -- the output this one corrects, after a return
    CREATE TABLE release_rounds (
        request_id TEXT NOT NULL REFERENCES release_requests(id),
        round INTEGER NOT NULL,
        submitted TEXT NOT NULL,
        justification TEXT NOT NULL,
        outputs TEXT NOT NULL,           -- JSON: the outputs with cell reasons and replaced outputs
        PRIMARY KEY (request_id, round)
    );
    CREATE TABLE release_comments (
        id TEXT PRIMARY KEY,             -- cmt-1a2b3c4d5e6f
        request_id TEXT NOT NULL REFERENCES release_requests(id),
        round INTEGER NOT NULL,
        output_id TEXT,                  -- NULL: on the request as a whole
        cell TEXT,                       -- "ROW:COLUMN", NULL: on the whole output
        parent_id TEXT REFERENCES release_comments(id),  -- the comment it answers
        author TEXT NOT NULL REFERENCES users(name),
        audience TEXT NOT NULL,          -- analyst (the author and the checkers) or checkers (checkers only)
        body TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE INDEX release_comments_by_request ON release_comments(request_id, created);
    """,
    # 13: data-sharing applications, each department's decision on its part, and the agreements (versioned
    # project policy data) that approved applications become (trust/store/agreements.py).
    """
    CREATE TABLE applications (
        id TEXT PRIMARY KEY,             -- app-1a2b3c4d5e6f
        applicant TEXT NOT NULL REFERENCES users(name),
        state TEXT NOT NULL,             -- draft, submitted, approved, rejected, withdrawn
        project TEXT NOT NULL,           -- the project it creates or amends
        amends INTEGER NOT NULL DEFAULT 0,
        spec TEXT NOT NULL,              -- JSON: what was applied for
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE TABLE application_decisions (
        application TEXT NOT NULL REFERENCES applications(id),
        department TEXT NOT NULL,
        approver TEXT NOT NULL REFERENCES users(name),
        decision TEXT NOT NULL,          -- approve or reject
        conditions TEXT NOT NULL,        -- JSON: fewer columns, row filters, stricter thresholds
        note TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (application, department, approver)
    );
    CREATE TABLE agreements (
        project TEXT NOT NULL,
        version INTEGER NOT NULL,
        spec TEXT NOT NULL,              -- JSON: the project's policy data (data.projects[project])
        application TEXT NOT NULL REFERENCES applications(id),
        created TEXT NOT NULL,
        PRIMARY KEY (project, version)
    );
    """,
)


_STORAGE_WORDS = ("disk is full", "disk i/o error", "database or disk is full", "unable to open", "readonly")


def _is_storage_failure(exc: sqlite3.OperationalError) -> bool:
    return any(w in str(exc).lower() for w in _STORAGE_WORDS)


class Database:
    """One SQLite file: a connection per thread, one writer at a time, migrations applied on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.write_lock = threading.Lock()
        with self.connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = con.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, script in enumerate(MIGRATIONS, start=1):
                if version > current:
                    con.executescript(f"BEGIN; {script}; INSERT INTO schema_version VALUES ({version}); COMMIT;")

    def connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives a crash
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        return con

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        yield self.connection()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole. A disk that is full or failing,
        at any statement or at the commit itself, is ``StorageFailed``: nothing of it was stored."""
        con = self.connection()
        with self.write_lock:
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if _is_storage_failure(exc):
                    log.error("state database %s: %s; the transaction was rolled back", self.path, exc)
                    raise StorageFailed(
                        "The trust could not store this: its disk is full or failing, so nothing of it was "
                        "kept. Try again later; the trust's operators have been told.",
                    ) from exc
                raise
