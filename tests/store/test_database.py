"""The trust's own database: WAL mode, and a schema that migrates forward from any earlier version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from trust.store.database import MIGRATIONS, Database


def test_an_old_database_migrates_forward_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as con:  # a trust from before the server: migration 1 only
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        con.executescript(MIGRATIONS[0])
        con.execute("INSERT INTO schema_version VALUES (1)")
        con.execute("INSERT INTO users (name, roles, organisation, created) VALUES ('ana', 'analyst', 'DWP', 'then')")
    database = Database(path)
    with database.connect() as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
        assert con.execute("SELECT name FROM users").fetchall() == [("ana",)]
        columns = {r[1] for r in con.execute("PRAGMA table_info(tokens)")}
        assert {"id", "user_name", "token_sha256", "created", "expires", "revoked"} <= columns
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Database(path)  # opening again applies nothing twice
    with sqlite3.connect(path) as con:
        assert [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version")] == list(
            range(1, len(MIGRATIONS) + 1)
        )
