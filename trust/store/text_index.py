"""An in-memory full-text index: SQLite FTS5 (porter stemming), ranked by bm25.

Holds only what it is given; the catalogue's search builds one from its metadata for each search
(``trust.catalog.search``). It lives here because only the store speaks SQLite; it touches none
of the trust's state and nothing of it reaches a disk.

    >>> index = TextIndex(("title", "description"), weights={"title": 5.0})
    >>> index.add("a", {"title": "Gross pay", "description": "Pay from returns"})
    >>> index.add("b", {"title": "Learners", "description": "One row per learner"})
    >>> [key for key, _ in index.ranked('"pay"')]
    ['a']
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
TOKENIZER = "porter unicode61 remove_diacritics 2"


class TextIndex:
    """Documents of named text fields under a key. Queries are FTS5 expressions, built by the caller
    from quoted terms only (``'"pay" OR "wages"'``)."""

    def __init__(self, fields: Sequence[str], *, weights: Mapping[str, float] | None = None) -> None:
        if not fields or not all(FIELD.match(f) for f in fields) or "key" in fields:
            raise ValueError(f"bad field names {list(fields)!r}")
        self.fields = tuple(fields)
        self._weights = tuple(float((weights or {}).get(f, 1.0)) for f in self.fields)
        self._db = sqlite3.connect(":memory:")
        self._db.execute(
            f"CREATE VIRTUAL TABLE docs USING fts5(key UNINDEXED, {', '.join(self.fields)}, tokenize='{TOKENIZER}')"
        )

    def add(self, key: str, fields: Mapping[str, str]) -> None:
        self.add_all([(key, fields)])

    def add_all(self, documents: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        rows = ([key, *(fields.get(f, "") for f in self.fields)] for key, fields in documents)
        self._db.executemany(f"INSERT INTO docs VALUES ({', '.join('?' * (len(self.fields) + 1))})", rows)

    def ranked(self, expression: str) -> list[tuple[str, float]]:
        """Every document matching ``expression``, best first, with its bm25 score (higher is better)."""
        weights = ", ".join(["0.0", *(repr(w) for w in self._weights)])  # the key column is not scored
        rows = self._db.execute(
            f"SELECT key, bm25(docs, {weights}) AS score FROM docs WHERE docs MATCH ? ORDER BY score, key",
            (expression,),
        ).fetchall()
        return [(str(key), -float(score)) for key, score in rows]

    def matching(self, expression: str, fields: Sequence[str] = ()) -> list[str]:
        """The keys of documents matching ``expression`` (in ``fields`` only, if given), in insertion order."""
        unknown = set(fields) - set(self.fields)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        query = f"{{{' '.join(fields)}}} : ({expression})" if fields else expression
        return [str(k) for (k,) in self._db.execute("SELECT key FROM docs WHERE docs MATCH ? ORDER BY rowid", (query,))]

    def close(self) -> None:
        self._db.close()
