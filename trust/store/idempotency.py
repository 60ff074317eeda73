"""Idempotency keys (``idempotency_keys``): a POST that creates something, retried with the same
key by the same user, returns what the first one made instead of making it again.

The key is recorded in the same transaction as what it made, so after a crash either both are
there (the retry gets the first result) or neither is (the retry makes it). A key reused for a
different request is refused rather than silently answered with another request's result.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Remembered:
    route: str  # what was asked: "query", "review", ...
    request_sha256: str  # of the request's content, so a reused key for another request is seen
    result: str  # the id of what it made


class IdempotencyStore(Protocol):
    def get(self, user: str, key: str) -> Remembered | None: ...

    def put(self, user: str, key: str, remembered: Remembered, now: str) -> None: ...


class SqliteIdempotency:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def get(self, user: str, key: str) -> Remembered | None:
        row = self.con.execute(
            "SELECT route, request_sha256, result FROM idempotency_keys WHERE user_name = ? AND key = ?", (user, key)
        ).fetchone()
        return None if row is None else Remembered(row[0], row[1], row[2])

    def put(self, user: str, key: str, remembered: Remembered, now: str) -> None:
        self.con.execute(
            "INSERT INTO idempotency_keys (user_name, key, route, request_sha256, result, created) VALUES (?,?,?,?,?,?)",
            (user, key, remembered.route, remembered.request_sha256, remembered.result, now),
        )
