"""Run generated SQL in a fresh sandbox, within a time limit that holds whatever a department does.

The query runs on a thread of its own. At its limit the engine is interrupted; a read blocked on a
department that stopped answering does not see the interrupt until its request times out
(``Limits.http_timeout_s``), so the caller is answered with ``QueryTimeout`` at the limit (plus a
grace of at most a tenth of it) and the blocked thread finishes on its own, closing its connection
and calling ``on_finish`` (which frees the department's read slot) only then.

After the query, the same connection hashes the footers of the files it was given (``verify``):
DuckDB keeps the footers it read in its metadata cache, so this costs one ``HEAD`` per file and
tells exactly which version of each file the query read (``trust.service.catalogue`` compares
the hashes with the registered version).

While it waits, the caller reads how many bytes the query has fetched so far (the sandbox logs each
HTTP/S3 request once it is answered, so the count grows a request at a time) into ``control``; a
cancelled ``control`` interrupts the engine exactly as the time limit does, and the caller is answered
with ``QueryCancelled`` at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from trust.engine.control import Control
from trust.engine.errors import map_engine_error
from trust.engine.footers import footer_digests
from trust.engine.pool import SandboxPool
from trust.engine.sandbox import Access, Limits, open_sandbox
from trust.errors import QueryCancelled, QueryTimeout, TrustError

log = logging.getLogger("trust.engine")
WATCH_S = 0.25  # how often the caller looks for a cancel (the bytes read are counted once, at the end: operators'
# figure; analysts never see it, as it depends on the data through row-group skipping)
CANCEL_GRACE_S = 0.5  # a cancelled query stopped within this frees its read slot before the caller hears
# The body bytes of the GETs answered so far (HEADs say a file's length but carry no body).
BYTES_READ = (
    "SELECT coalesce(sum(TRY_CAST(response.headers['content-length'] AS BIGINT)), 0) "
    "FROM duckdb_logs_parsed('HTTP') WHERE request.type = 'GET'"
)


@dataclass(frozen=True)
class Execution:
    table: pa.Table
    elapsed_s: float
    digests: Mapping[str, str] = field(default_factory=dict)  # footer hash of each file in ``verify``, as read
    timings: Mapping[str, float] = field(default_factory=dict)  # sandbox_s, query_s, verify_s
    bytes_read: int | None = None  # body bytes fetched from the departments by the query (footers included)


def _timeout(limits: Limits) -> QueryTimeout:
    return QueryTimeout(
        f"The query ran longer than its {limits.timeout_s:g} s limit and was stopped. "
        "Narrow it (fewer datasets, a filter on a dimension) or ask for a longer limit.",
        timeout_s=limits.timeout_s,
    )


def _cancelled() -> QueryCancelled:
    return QueryCancelled("The query was cancelled; nothing was released.")


def _bytes_read(con: duckdb.DuckDBPyConnection) -> int | None:
    try:
        row = con.execute(BYTES_READ).fetchone()
    except duckdb.Error:  # a sandbox opened without the log: the count is unknown, the query unaffected
        return None
    return int(row[0]) if row else None


def execute(
    sql: str,
    access: Access,
    limits: Limits,
    *,
    departments: tuple[str, ...] = (),
    parameters: Mapping[str, str] | None = None,
    verify: tuple[str, ...] = (),
    on_finish: Callable[[], None] | None = None,
    wait_s: float | None = None,
    sandboxes: SandboxPool | None = None,
    control: Control | None = None,
) -> Execution:
    """Run one generated SELECT; any failure becomes a safe ``TrustError``.

    ``parameters`` are bound by name (``$trust_key``): values the SQL text must never hold.
    ``wait_s`` is what is left of the query's limit (``limits.timeout_s``) when the engine starts.
    ``sandboxes``: where to take a sandbox opened ahead of time (else one is opened here).
    ``control``: where the bytes read are reported when the query ends, and whose ``cancel()`` stops it."""
    wait = limits.timeout_s if wait_s is None else max(0.0, wait_s)
    control = control if control is not None else Control()
    start = time.perf_counter()
    deadline = time.monotonic() + wait
    outcome: dict[str, BaseException] = {}
    result: list[tuple[pa.Table, dict[str, str], int | None]] = []
    timings: dict[str, float] = {}
    done = threading.Event()
    connection: list[duckdb.DuckDBPyConnection] = []

    def run() -> None:
        con = None
        try:
            t0 = time.perf_counter()
            con = (
                sandboxes.take(access, limits, metadata_cache=bool(verify))
                if sandboxes is not None
                else open_sandbox(access, limits, metadata_cache=bool(verify))
            )
            connection.append(con)
            if control.cancelled:
                raise _cancelled()
            t1 = time.perf_counter()
            table = con.execute(sql, dict(parameters) if parameters else None).to_arrow_table()
            t2 = time.perf_counter()
            read = _bytes_read(con)
            digests = footer_digests(con, verify) if verify else {}
            timings.update(sandbox_s=t1 - t0, query_s=t2 - t1, verify_s=time.perf_counter() - t2)
            result.append((table, digests, read))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc
        finally:
            if con is not None:
                con.close()
            done.set()
            if on_finish is not None:
                on_finish()

    worker = threading.Thread(target=run, name="trust-engine", daemon=True)
    worker.start()
    while not done.wait(max(0.0, min(WATCH_S, deadline - time.monotonic()))):
        if control.cancelled or time.monotonic() >= deadline:
            break
    if not done.is_set():
        if connection:
            connection[0].interrupt()
        if control.cancelled:  # the analyst asked: answer now; a read in flight ends on its own
            if not done.wait(CANCEL_GRACE_S):
                log.info("cancelled query waits for a read from %s to end", ", ".join(departments) or "a department")
            raise _cancelled()
        if not done.wait(min(2.0, limits.timeout_s * 0.05)):
            log.warning(
                "query past its %.0f s limit is blocked on a read from %s; answered with a timeout, the read "
                "ends within the departments' %.0f s request limit",
                limits.timeout_s,
                ", ".join(departments) or "a department",
                limits.http_timeout_s,
            )
            raise _timeout(limits)
    error = outcome.get("error")
    if isinstance(error, TrustError):
        raise error
    if isinstance(error, duckdb.InterruptException):
        raise (_cancelled() if control.cancelled else _timeout(limits)) from error
    if isinstance(error, duckdb.Error):
        mapped = map_engine_error(error, timeout_s=limits.timeout_s, departments=departments)
        log.warning("query failed in the engine (%s): %s: %s", mapped.code, type(error).__name__, error)
        raise mapped from error
    if isinstance(error, BaseException):
        raise error
    table, digests, read = result[0]
    if read is not None:
        control.read(read)
    return Execution(
        table=table, elapsed_s=time.perf_counter() - start, digests=digests, timings=timings, bytes_read=read
    )
