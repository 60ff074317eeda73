"""Release requests: the ``release_*`` tables of migration 4, and of migration 12 (rounds, comments and
replaced outputs).

Reads and writes only; which moves are allowed is ``trust.outputs.release``, and the service
layer (``trust.service.airlock``) composes the two inside one transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from trust.errors import UnknownName, did_you_mean
from trust.outputs.release import Comment, ReleaseOutput, ReleaseRequest, ReleaseState, Review, ReviewDecision, Step
from trust.outputs.rounds import Round

_COLUMNS = "id, author, project, justification, state, round, created, updated, bundle_sha256"


class ReleaseStore(Protocol):
    def insert(self, request: ReleaseRequest, key: str | None) -> None: ...

    def write_outputs(self, request_id: str, outputs: Iterable[ReleaseOutput]) -> None: ...

    def update_justification(self, request_id: str, justification: str, now: str) -> None: ...

    def insert_reviews(
        self, request_id: str, round_: int, reviewer: str, decisions: Mapping[str, tuple[ReviewDecision, str]], now: str
    ) -> list[Review]: ...

    def move(
        self, request: ReleaseRequest, target: ReleaseState, round_: int, now: str, bundle_sha256: str | None
    ) -> bool: ...

    def by_key(self, author: str, key: str) -> str | None: ...

    def save_round(self, request_id: str, round_: int, submitted: str) -> None: ...

    def rounds(self, request_id: str) -> list[Round]: ...

    def add_comment(self, comment: Comment) -> None: ...

    def comments(self, request_id: str) -> list[Comment]: ...

    def digest(self, request_id: str) -> str | None: ...

    def ids(self) -> list[str]: ...

    def get(self, request_id: str, *, history: bool = True) -> ReleaseRequest: ...

    def list(
        self, *, projects: Iterable[str] | None = None, states: Iterable[ReleaseState] | None = None, limit: int = 500
    ) -> list[ReleaseRequest]: ...


class SqliteReleases:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def insert(self, request: ReleaseRequest, key: str | None) -> None:
        self.con.execute(
            "INSERT INTO release_requests (id, author, project, justification, state, round, created, updated, "
            "idempotency_key) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                request.id,
                request.author,
                request.project,
                request.justification,
                request.state.value,
                request.round,
                request.created,
                request.updated,
                key,
            ),
        )
        self.write_outputs(request.id, request.outputs)

    def write_outputs(self, request_id: str, outputs: Iterable[ReleaseOutput]) -> None:
        self.con.execute("DELETE FROM release_outputs WHERE request_id = ?", (request_id,))
        self.con.executemany(
            "INSERT INTO release_outputs (request_id, output_id, position, cell_reasons, replaces) VALUES (?,?,?,?,?)",
            [
                (request_id, o.output, i, json.dumps(dict(o.cell_reasons), sort_keys=True), o.replaces)
                for i, o in enumerate(outputs)
            ],
        )

    def update_justification(self, request_id: str, justification: str, now: str) -> None:
        self.con.execute(
            "UPDATE release_requests SET justification = ?, updated = ? WHERE id = ?", (justification, now, request_id)
        )

    def insert_reviews(
        self, request_id: str, round_: int, reviewer: str, decisions: Mapping[str, tuple[ReviewDecision, str]], now: str
    ) -> list[Review]:
        reviews = [
            Review(reviewer, round_, output, decision, comment, now)
            for output, (decision, comment) in decisions.items()
        ]
        self.con.executemany(
            "INSERT INTO release_reviews (request_id, round, reviewer, output_id, decision, comment, created) "
            "VALUES (?,?,?,?,?,?,?)",
            [(request_id, r.round, r.reviewer, r.output, r.decision.value, r.comment, r.created) for r in reviews],
        )
        return reviews

    def move(
        self, request: ReleaseRequest, target: ReleaseState, round_: int, now: str, bundle_sha256: str | None
    ) -> bool:
        """Move the request to ``target`` if nobody moved it since ``request`` was read; False if someone did."""
        cursor = self.con.execute(
            "UPDATE release_requests SET state = ?, round = ?, updated = ?, bundle_sha256 = coalesce(?, bundle_sha256) "
            "WHERE id = ? AND state = ? AND round = ?",
            (target.value, round_, now, bundle_sha256, request.id, request.state.value, request.round),
        )
        return cursor.rowcount == 1

    def digest(self, request_id: str) -> str | None:
        """SHA-256 of everything stored about one request (its row, outputs with reasons, reviews): what
        its newest audit event records, so a hand-edited state is seen (``trust.service.integrity``)."""
        row = self.con.execute(
            "SELECT id, author, project, justification, state, round, created, updated, bundle_sha256 "
            "FROM release_requests WHERE id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            return None
        outputs = [  # a replaced output's link counts; rows without one hash as they always have
            list(o[:3]) + ([o[3]] if o[3] else [])
            for o in self.con.execute(
                "SELECT output_id, position, cell_reasons, replaces FROM release_outputs WHERE request_id = ? "
                "ORDER BY position",
                (request_id,),
            )
        ]
        reviews = self.con.execute(
            "SELECT round, reviewer, output_id, decision, comment, created FROM release_reviews WHERE request_id = ? "
            "ORDER BY round, reviewer, output_id",
            (request_id,),
        ).fetchall()
        body = json.dumps([list(row), outputs, [list(r) for r in reviews]], separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def ids(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT id FROM release_requests ORDER BY created, id")]

    def by_key(self, author: str, key: str) -> str | None:
        row = self.con.execute(
            "SELECT id FROM release_requests WHERE author = ? AND idempotency_key = ?", (author, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def save_round(self, request_id: str, round_: int, submitted: str) -> None:
        """Keep what round ``round_`` asks the checkers to review: the justification and outputs as they are now."""
        row = self.con.execute("SELECT justification FROM release_requests WHERE id = ?", (request_id,)).fetchone()
        outputs = [
            ReleaseOutput(o, json.loads(reasons), replaces).to_json()
            for o, reasons, replaces in self.con.execute(
                "SELECT output_id, cell_reasons, replaces FROM release_outputs WHERE request_id = ? ORDER BY position",
                (request_id,),
            )
        ]
        self.con.execute(
            "INSERT OR REPLACE INTO release_rounds (request_id, round, submitted, justification, outputs) "
            "VALUES (?,?,?,?,?)",
            (request_id, round_, submitted, row[0], json.dumps(outputs, sort_keys=True)),
        )

    def rounds(self, request_id: str) -> list[Round]:
        return [
            Round(int(n), str(at), str(text), tuple(ReleaseOutput.from_json(o) for o in json.loads(outputs)))
            for n, at, text, outputs in self.con.execute(
                "SELECT round, submitted, justification, outputs FROM release_rounds WHERE request_id = ? ORDER BY round",
                (request_id,),
            )
        ]

    def add_comment(self, comment: Comment) -> None:
        c = comment
        self.con.execute(
            "INSERT INTO release_comments (id, request_id, round, output_id, cell, parent_id, author, audience, body, "
            "created) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (c.id, c.request, c.round, c.output, c.cell, c.parent, c.author, c.audience, c.body, c.created),
        )

    def comments(self, request_id: str) -> list[Comment]:
        """Every comment on the request, oldest first (the service decides who sees which)."""
        return [
            Comment(i, r, n, a, aud, body, at, o, cell, parent)
            for i, r, n, o, cell, parent, a, aud, body, at in self.con.execute(
                "SELECT id, request_id, round, output_id, cell, parent_id, author, audience, body, created "
                "FROM release_comments WHERE request_id = ? ORDER BY created, id",
                (request_id,),
            )
        ]

    def get(self, request_id: str, *, history: bool = True) -> ReleaseRequest:
        row = self.con.execute(f"SELECT {_COLUMNS} FROM release_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            known = [r[0] for r in self.con.execute("SELECT id FROM release_requests ORDER BY created DESC LIMIT 200")]
            raise UnknownName(
                f"No release request {request_id!r} is known.{did_you_mean(request_id, known)}", request=request_id
            )
        return self._build(row, history=history)

    def list(
        self, *, projects: Iterable[str] | None = None, states: Iterable[ReleaseState] | None = None, limit: int = 500
    ) -> list[ReleaseRequest]:
        """Newest first; only ``projects`` and ``states`` when given (an empty list means none)."""
        sql, where, args = f"SELECT {_COLUMNS} FROM release_requests", [], []  # type: str, list[str], list[Any]
        wanted_states = [s.value for s in states] if states is not None else None
        for column, values in (("project", projects), ("state", wanted_states)):
            if values is not None:
                wanted = sorted(set(values))
                if not wanted:
                    return []
                where.append(f"{column} IN ({','.join('?' * len(wanted))})")
                args += wanted
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.con.execute(sql + " ORDER BY updated DESC, created DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._build(r, history=False) for r in rows]

    def _build(self, row: tuple[Any, ...], *, history: bool) -> ReleaseRequest:
        request_id = row[0]
        outputs = tuple(
            ReleaseOutput(o, json.loads(reasons), replaces)
            for o, reasons, replaces in self.con.execute(
                "SELECT output_id, cell_reasons, replaces FROM release_outputs WHERE request_id = ? ORDER BY position",
                (request_id,),
            )
        )
        reviews = tuple(
            Review(r[0], r[1], r[2], ReviewDecision(r[3]), r[4], r[5])
            for r in self.con.execute(
                "SELECT reviewer, round, output_id, decision, comment, created FROM release_reviews WHERE request_id = ? "
                "ORDER BY round, created, reviewer, output_id",
                (request_id,),
            )
        )
        round_ = int(row[5])
        reviewers = tuple(dict.fromkeys(r.reviewer for r in reviews if r.round == round_))
        steps: tuple[Step, ...] = ()
        if history:
            steps = tuple(
                Step(seq, ts, p.get("source"), p["target"], p["action"], actor)
                for seq, ts, actor, p in (
                    (r[0], r[1], r[2], json.loads(r[3]))
                    for r in self.con.execute(
                        "SELECT seq, ts, actor, payload FROM audit_events WHERE kind IN ('release_created', "
                        "'release_transition') AND json_extract(payload, '$.request') = ? ORDER BY seq",
                        (request_id,),
                    )
                )
            )
        return ReleaseRequest(
            id=request_id,
            author=row[1],
            project=row[2],
            justification=row[3],
            state=ReleaseState(row[4]),
            round=round_,
            created=row[6],
            updated=row[7],
            outputs=outputs,
            reviews=reviews,
            reviewers_this_round=reviewers,
            history=steps,
            bundle_sha256=row[8],
        )
