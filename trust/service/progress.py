"""Where one query is, for whoever waits for it, and the one way to cancel it.

A query moves through its stages in order; ``QueryProgress`` records each as the service enters it
and hands the engine a ``Control`` for the reading stage (the interrupt; the bytes read so far):

    queued → policy → waiting → reading → disclosure → recording → done
                          (or, at any stage before recording: cancelled; on an error: failed)

``cancel()`` is honoured up to the moment the output starts to be recorded, and refused after it:
a query either made its output or made nothing, never half of one.

``snapshot()`` is what an analyst sees: stages and times, never the bytes read. DuckDB skips the
Parquet row groups whose min/max statistics rule out a query's ``WHERE``, so the bytes it reads depend
on the data: repeating a query with different thresholds and watching them would find one person's
value. The count stays with operators (``control.bytes_read``, the audit, the server log).

    >>> progress = QueryProgress("q-0123")
    >>> progress.enter(Stage.POLICY)
    >>> progress.cancel(via="api")
    True
    >>> progress.enter(Stage.READING)
    Traceback (most recent call last):
    trust.errors.QueryCancelled: Query q-0123 cancelled; nothing was released.
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
from typing import Any

from trust.engine.control import Control
from trust.errors import QueryCancelled


class Stage(enum.StrEnum):
    QUEUED = "queued"  # submitted, waiting for a thread
    POLICY = "policy"  # parse, validate, the policy's decision, rewrite
    WAITING = "waiting"  # for a read slot at each department, and for an engine
    READING = "reading"  # the engine reads the departments' files and computes
    DISCLOSURE = "disclosure"  # disclosure control on the result
    RECORDING = "recording"  # the output, its audit event and populations, in one transaction
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


ORDER = tuple(Stage)
ENDED = frozenset({Stage.DONE, Stage.CANCELLED, Stage.FAILED})
UNCANCELLABLE = frozenset({Stage.RECORDING}) | ENDED


def new_query_id() -> str:
    return "q-" + secrets.token_hex(8)


class QueryProgress:
    """One query's stages so far, and whether (and how) it was cancelled."""

    def __init__(self, query_id: str | None = None) -> None:
        self.id = query_id or new_query_id()
        self.control = Control()
        self.cancelled_via: str | None = None  # "interrupt" (Ctrl-C, a kernel) or "api" (DELETE)
        self.cancelled_at: Stage | None = None
        self._lock = threading.Lock()
        self._stages: list[tuple[Stage, float]] = [(Stage.QUEUED, time.monotonic())]

    @property
    def stage(self) -> Stage:
        return self._stages[-1][0]

    @property
    def message(self) -> str:
        return f"Query {self.id} cancelled; nothing was released."

    def cancelled_error(self) -> QueryCancelled:
        return QueryCancelled(self.message, query=self.id)

    def enter(self, stage: Stage) -> None:
        """Move on to ``stage``; ``QueryCancelled`` instead if the query was cancelled (unless it ended)."""
        with self._lock:
            if self.control.cancelled and stage not in ENDED:
                raise self.cancelled_error()
            if stage is not self.stage:
                self._stages.append((stage, time.monotonic()))

    def check(self) -> None:
        """``QueryCancelled`` if the query was cancelled: for stages that wait (a department's read slot)."""
        if self.control.cancelled:
            raise self.cancelled_error()

    def cancel(self, *, via: str) -> bool:
        """Ask the query to stop; False if it is too late (its output is being recorded, or it ended)."""
        with self._lock:
            if self.stage in UNCANCELLABLE:
                return False
            if not self.control.cancelled:
                self.cancelled_via, self.cancelled_at = via, self.stage
                self.control.cancel()
            return True

    def snapshot(self) -> dict[str, Any]:
        """What an analyst may see: the query, its stage, every stage entered so far in order, and how
        long it has taken (in all, and in this stage). Nothing derived from what the engine read."""
        with self._lock:
            stages = list(self._stages)
        now = time.monotonic()
        ended = stages[-1][0] in ENDED
        out: dict[str, Any] = {
            "query": self.id,
            "stage": stages[-1][0].value,
            "stages": [s.value for s, _ in stages],
            "stage_s": round(now - stages[-1][1], 2) if not ended else 0.0,
            "elapsed_s": round((stages[-1][1] if ended else now) - stages[0][1], 2),
        }
        if self.control.cancelled and self.stage not in ENDED:
            out["cancelling"] = True
        return out
