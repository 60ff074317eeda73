"""Run a plan on Apache Spark, reading the departments' files in place.

Per query: a new Spark session on the process's one SparkContext (its own temporary views and
settings, nothing shared with another query), one view per dataset over exactly its registered files
through the trust's Python data source (``trust.engine.spark.source``) with only that department's
credential, the generated SQL checked again after translation (``trust.engine.spark.guard``), run
under a job tag so the query's time limit cancels its jobs, and the result returned as Arrow. The
files' footers are then hashed on a DuckDB sandbox, as the catalogue's discovery does
(``trust.engine.footers``), so a file changed at the source is caught as on the DuckDB engine.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from trust.engine.control import Control
from trust.engine.execute import WATCH_S, Execution
from trust.engine.footers import footer_digests
from trust.engine.sandbox import Access, Limits, Secret, open_sandbox
from trust.engine.spark import guard, source
from trust.engine.spark import session as spark_session
from trust.errors import DatasetUnavailable, QueryCancelled, QueryFailed, QueryTimeout, TrustError
from trust.sql.dialects import leaf_view

if TYPE_CHECKING:
    from trust.catalog.model import Dataset
    from trust.config import Config

log = logging.getLogger("trust.engine.spark")


def settings_from(config: Config) -> spark_session.SparkSettings:
    return spark_session.SparkSettings(
        master=str(config.spark_master),
        driver_memory=str(config.spark_driver_memory),
        executor_memory=str(config.spark_executor_memory),
        shuffle_partitions=int(config.spark_shuffle_partitions),
    )


def _secret_for(ds: Dataset, access: Access) -> Secret | None:
    """The one credential whose scope covers this dataset's files (its own department's), if any."""
    if not ds.files:
        return None
    url = ds.files[0].url
    for secret in access.secrets:
        if url == secret.scope or url.startswith(secret.scope.rstrip("/") + "/"):
            return secret
    return None


def _needed(sql: str) -> dict[str, set[str]]:
    """Per leaf view, the columns the SQL reads from it (lower case): the reader fetches only those."""
    tree = sqlglot.parse_one(sql, read="spark")
    needed: dict[str, set[str]] = {}
    for table in tree.find_all(exp.Table):
        if not table.name.startswith("trust_leaf_"):
            continue
        reader = table.find_ancestor(exp.Select)
        names = needed.setdefault(table.name, set())
        if reader is not None:
            for col in reader.find_all(exp.Column):
                if col.find_ancestor(exp.Select) is reader:
                    names.add(col.name.lower())
    return needed


def _naive(table: pa.Table) -> pa.Table:
    """Timestamps as DuckDB returns them, without a zone: Spark's are UTC instants (the session's zone is
    UTC), so dropping the zone keeps every value."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit)))
    return table


def _timeout(limits: Limits) -> QueryTimeout:
    return QueryTimeout(
        f"The query ran longer than its {limits.timeout_s:g} s limit and was stopped. "
        "Narrow it (fewer datasets, a filter on a dimension) or ask for a longer limit.",
        timeout_s=limits.timeout_s,
    )


# Spark's error conditions (fixed names, no values) whose cause the analyst can fix: DuckDB's words for them.
_HINTS = (
    (
        "MISSING_AGGREGATION",
        "A column in SELECT, HAVING or ORDER BY is neither a GROUP BY key nor inside an aggregate. "
        "Add it to GROUP BY, or order by a group key.",
    ),
    (
        "MISSING_GROUP_BY",
        "A column in SELECT, HAVING or ORDER BY is neither a GROUP BY key nor inside an aggregate. "
        "Add it to GROUP BY, or order by a group key.",
    ),
    (
        # Every name was resolved against the catalogue before the SQL was generated: a name Spark cannot
        # resolve is one the companions' re-aggregation left out, a column neither grouped nor aggregated.
        "UNRESOLVED_COLUMN",
        "A column in SELECT, HAVING or ORDER BY is neither a GROUP BY key nor inside an aggregate. "
        "Add it to GROUP BY, or order by a group key.",
    ),
    ("NESTED_AGGREGATE_FUNCTION", "An aggregate inside another aggregate is not possible; aggregate once."),
    (
        "DATATYPE_MISMATCH",
        "The query's types or names do not fit together. Check the column types with `trust catalog show`.",
    ),
)


def _condition(exc: BaseException) -> str:
    """Spark's error condition (e.g. ``MISSING_AGGREGATION``), or "" for an error without one."""
    get = getattr(exc, "getCondition", None)
    try:
        return str(get() or "") if callable(get) else ""
    except Exception:  # noqa: BLE001 - a Py4J error may not carry one
        return ""


def _mapped(exc: BaseException, departments: tuple[str, ...]) -> TrustError:
    """A Spark failure as a fixed, safe message (Spark's own text can hold values and the generated SQL)."""
    text = f"{type(exc).__name__}: {exc}".lower()
    who = " or ".join(departments) or "the department"
    # The reader's own message names the file and what happened: for the server log (logged by the caller);
    # the analyst is told which department, as on the DuckDB engine.
    if source.unavailable(exc) is not None or "python_data_source_error" in text:
        return DatasetUnavailable(
            f"The data could not be read from {who}'s server. Try again later; if it persists, the "
            "department's data owner should check its service.",
            department=", ".join(departments) or None,
        )
    if "outofmemory" in text or "java heap space" in text:
        return QueryFailed(
            "The query needed more memory than the Spark engine has. Group by fewer or coarser dimensions, "
            "filter to fewer rows, or ask the administrator for more executor memory."
        )
    condition = _condition(exc)
    for prefix, message in _HINTS:
        if condition.startswith(prefix):
            return QueryFailed(message)
    return QueryFailed(
        "The query failed in the Spark engine. Try again; if it persists, report it to the trust's "
        "administrators (the server log holds the details)."
    )


class SparkEngine:
    name = "spark"

    def __init__(self, settings: spark_session.SparkSettings) -> None:
        self.settings = settings
        spark_session.start(settings)  # in the background: the first query should not wait for the JVM

    def run(
        self,
        sql: str,
        datasets: Sequence[Dataset],
        access: Access,
        limits: Limits,
        *,
        departments: tuple[str, ...] = (),
        parameters: Mapping[str, str] | None = None,
        verify: tuple[str, ...] = (),
        on_finish: Callable[[], None] | None = None,
        wait_s: float | None = None,
        control: Control | None = None,
    ) -> Execution:
        wait = limits.timeout_s if wait_s is None else max(0.0, wait_s)
        control = control if control is not None else Control()
        start = time.perf_counter()
        deadline = time.monotonic() + wait
        tag = f"trust-{uuid.uuid4().hex}"
        outcome: dict[str, BaseException] = {}
        result: list[pa.Table] = []
        timings: dict[str, float] = {}
        done = threading.Event()
        cancelled = threading.Event()  # the caller was answered with a timeout: start no job after it
        sessions: list[Any] = []

        def run() -> None:
            try:
                t0 = time.perf_counter()
                root = spark_session.get(self.settings)
                spark = root.newSession()
                sessions.append(spark)
                views = []
                needed = _needed(sql)
                for ds in datasets:
                    files = [f.url for f in ds.files]
                    name = leaf_view(files)
                    wanted = needed.get(name, set())
                    columns = [
                        (c.name, source.spark_type(c.type or "VARCHAR"))
                        for c in ds.columns
                        if c.name.lower() in wanted or c.name == ds.unit_key
                    ]
                    frame = source.read(
                        spark,
                        files,
                        columns,
                        _secret_for(ds, access),
                        timeout_s=limits.http_timeout_s,
                        retries=limits.http_retries,
                    )
                    frame.createOrReplaceTempView(name)
                    views.append(name)
                guard.check(sql, views, parameters=set(parameters or ()))
                guard.verify_session(spark)
                spark.addTag(tag)  # before the check below: a timeout after it interrupts the tagged jobs
                if cancelled.is_set():
                    raise _timeout(limits)
                t1 = time.perf_counter()
                table = _naive(spark.sql(sql, args=dict(parameters) if parameters else None).toArrow())
                t2 = time.perf_counter()
                timings.update(sandbox_s=t1 - t0, query_s=t2 - t1)
                result.append(table)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                outcome["error"] = exc
            finally:
                for spark in sessions:
                    try:
                        spark.removeTag(tag)
                    except Exception:  # noqa: BLE001 - the session may already be gone
                        pass
                done.set()
                if on_finish is not None:
                    on_finish()

        worker = threading.Thread(target=run, name="trust-spark-query", daemon=True)
        worker.start()
        # The cancel path is the time limit's: no job starts after it, and the tagged jobs are interrupted.
        while not done.wait(max(0.0, min(WATCH_S, deadline - time.monotonic()))):
            if control.cancelled or time.monotonic() >= deadline:
                break
        if not done.is_set():
            cancelled.set()
            if sessions:
                try:
                    sessions[0].interruptTag(tag)
                except Exception:  # noqa: BLE001 - best effort: the answer is a timeout either way
                    log.warning("could not interrupt Spark jobs tagged %s", tag)
            if control.cancelled:
                raise QueryCancelled("The query was cancelled; nothing was released.")
            raise _timeout(limits)
        error = outcome.get("error")
        if isinstance(error, TrustError):
            raise error
        if error is not None:
            mapped = _mapped(error, departments)
            log.warning("query failed on Spark (%s): %s: %s", mapped.code, type(error).__name__, error)
            raise mapped from error
        t3 = time.perf_counter()
        digests = self._digests(verify, access, limits) if verify else {}
        timings["verify_s"] = time.perf_counter() - t3
        return Execution(table=result[0], elapsed_s=time.perf_counter() - start, digests=digests, timings=timings)

    @staticmethod
    def _digests(verify: tuple[str, ...], access: Access, limits: Limits) -> dict[str, str]:
        """The footers of the files read, hashed as discovery hashes them (one metadata read per file)."""
        con = open_sandbox(access, limits, metadata_cache=True)
        try:
            return footer_digests(con, verify)
        except Exception as exc:  # noqa: BLE001 - a department gone since the query is unavailable now
            raise DatasetUnavailable(
                "The files' versions could not be checked after the query; try again later.",
            ) from exc
        finally:
            con.close()

    def close(self) -> None:
        """The Spark session lives as long as the process (one per trust process)."""
