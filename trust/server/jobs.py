"""Queries as jobs on a thread pool, so the server answers other requests while one runs.

A client submits SQL and waits a little; if the query is not done it gets the job's state and
polls (each poll is idempotent and may be retried). A resubmission with the same idempotency key
from the same user joins the existing job instead of running the query twice. The engine's own
timer interrupts a query past ``query_timeout_s``; the job then fails with ``QueryTimeout``.

Each poll answers with the query's stage (``trust.service.progress``: policy, waiting, reading,
disclosure, recording) and its times, never the bytes read (they depend on the data; the server log
has them, one line a query), and ``cancel`` (``DELETE /v1/queries/{id}``) stops it: the engine is
interrupted, the thread is free again, the service audits ``query_cancelled``, and a poll answers
``QueryCancelled``. A query whose output is already being recorded is not cancelled.
"""

from __future__ import annotations

import enum
import logging
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trust.errors import KeyReused, QueryCancelled, UnknownName
from trust.outputs.output import Output
from trust.service import Trust
from trust.service.progress import QueryProgress

log = logging.getLogger("trust.server")
KEEP_FINISHED_S = 900.0  # finished jobs answer polls this long, then are forgotten


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class QueryJob:
    id: str
    user: str
    project: str
    sql: str
    key: str | None
    timeout_s: float
    future: Future[Output] = field(default_factory=Future)  # replaced by the pool's on submit
    tracker: QueryProgress = field(default_factory=QueryProgress)  # its stages, and how it is cancelled
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None

    @property
    def state(self) -> JobState:
        if not self.future.done():
            return JobState.RUNNING if self.started is not None else JobState.QUEUED
        error = self.future.exception()
        if isinstance(error, QueryCancelled):
            return JobState.CANCELLED
        return JobState.FAILED if error is not None else JobState.DONE

    def progress(self) -> dict[str, Any]:
        now = self.finished or time.monotonic()
        state = self.state
        out = {  # what the analyst sees: stages and times (QueryProgress.snapshot), nothing the engine read
            **self.tracker.snapshot(),
            "query": self.id,
            "state": state.value,
            "project": self.project,
            "elapsed_s": round(now - self.submitted, 2),
            "running_s": round(now - self.started, 2) if self.started is not None else 0.0,
            "timeout_s": self.timeout_s,
        }
        if state is JobState.CANCELLED:
            out["message"] = self.tracker.message
        return out


class QueryJobs:
    def __init__(self, trust: Trust, workers: int) -> None:
        self.trust = trust
        # ``workers`` queries run in the engine at once; more threads than that may wait for a slot at a
        # slow department (trust.service.gate) without holding an engine, so one department cannot stall others.
        trust.queries.gate.limit_engines(workers)
        self.executor = ThreadPoolExecutor(max_workers=workers * 4, thread_name_prefix="trust-query")
        self._jobs: dict[str, QueryJob] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def submit(self, user: str, project: str, sql: str, key: str | None = None) -> QueryJob:
        with self._lock:
            self._prune()
            joined = self._jobs.get(self._by_key.get((user, key), "")) if key is not None else None
            if joined is not None and joined.state in (JobState.FAILED, JobState.CANCELLED):
                joined = None  # a failed or cancelled query made nothing: its retry runs again
            if joined is not None:
                if (joined.project, joined.sql) != (project, sql):
                    raise KeyReused(
                        f"The idempotency key {key!r} was sent before with a different query; send a new key "
                        "with each new query (a retry of the same query may reuse its key)."
                    )
                return joined
            job = QueryJob(
                id="q-" + secrets.token_hex(8),
                user=user,
                project=project,
                sql=sql,
                key=key,
                timeout_s=float(self.trust.config.query_timeout_s),
            )
            job.tracker = QueryProgress(job.id)
            job.future = self.executor.submit(self._run, job)
            self._jobs[job.id] = job
            if key is not None:
                self._by_key[(user, key)] = job.id
        return job

    def get(self, user: str, job_id: str) -> QueryJob:
        """The caller's own job; someone else's is reported exactly like one that does not exist."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.user != user:
            raise UnknownName(
                f"No query {job_id!r} of yours is known to the server; finished queries are kept "
                f"for {KEEP_FINISHED_S / 60:g} minutes, their outputs for good (GET /v1/outputs).",
                query=job_id,
            )
        return job

    def cancel(self, user: str, job_id: str) -> QueryJob:
        """Stop the caller's own query, wherever it is; one that has ended (or is recording its output) is
        left as it is. The job answers ``QueryCancelled`` once it has stopped (at once, in the engine)."""
        job = self.get(user, job_id)
        if job.tracker.cancel(via="api"):
            log.info("query %s cancelled by user=%s at %s", job.id, user, job.tracker.stage.value)
        return job

    def counts(self) -> dict[str, int]:
        with self._lock:
            states = [j.state.value for j in self._jobs.values()]
        return {s.value: states.count(s.value) for s in (JobState.QUEUED, JobState.RUNNING)}

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: QueryJob) -> Output:
        job.started = time.monotonic()
        try:
            return self.trust.queries.run(job.user, job.project, job.sql, key=job.key, progress=job.tracker)
        finally:
            job.finished = time.monotonic()
            # For operators only: the bytes read depend on the data (row groups skipped), so no analyst sees them.
            log.info(
                "query %s user=%s project=%s %s %.2fs bytes_read=%s",
                job.id,
                job.user,
                job.project,
                job.tracker.stage.value,
                job.finished - job.started,
                job.tracker.control.bytes_read,
            )

    def _prune(self) -> None:
        cutoff = time.monotonic() - KEEP_FINISHED_S
        for job_id in [j.id for j in self._jobs.values() if j.finished is not None and j.finished < cutoff]:
            job = self._jobs.pop(job_id)
            if job.key is not None:
                self._by_key.pop((job.user, job.key), None)
