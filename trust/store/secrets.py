"""The trust's own secrets (``trust_secrets``): made once, then only read.

Today one: the record-key secret of the cell key method (``trust.sdc.perturbation``). Losing it
would give every population new noise, so a repeated query could then be averaged: back it up with
the state database, and never rotate it while outputs made under it may still be asked for again.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol


class SecretStore(Protocol):
    def get_or_create(self, name: str, value: str, created: str) -> str: ...


class SqliteSecrets:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def get_or_create(self, name: str, value: str, created: str) -> str:
        """The stored secret ``name``; ``value`` is stored first if there is none (the first start wins)."""
        self.con.execute(
            "INSERT OR IGNORE INTO trust_secrets (name, value, created) VALUES (?, ?, ?)", (name, value, created)
        )
        row = self.con.execute("SELECT value FROM trust_secrets WHERE name = ?", (name,)).fetchone()
        return str(row[0])
