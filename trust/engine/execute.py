"""Run generated SQL in a fresh sandbox, with a timer that interrupts long queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from trust.engine.errors import map_engine_error
from trust.engine.sandbox import Access, Limits, open_sandbox
from trust.errors import TrustError


@dataclass(frozen=True)
class Execution:
    table: pa.Table
    elapsed_s: float


def execute(
    sql: str,
    access: Access,
    limits: Limits,
    *,
    departments: tuple[str, ...] = (),
    parameters: Mapping[str, str] | None = None,
) -> Execution:
    """Run one generated SELECT; any failure becomes a safe ``TrustError``.

    ``parameters`` are bound by name (``$trust_key``): values the SQL text must never hold."""
    start = time.perf_counter()
    con = None
    timer = None
    try:
        con = open_sandbox(access, limits)
        timer = threading.Timer(limits.timeout_s, con.interrupt)
        timer.daemon = True
        timer.start()
        table = con.execute(sql, dict(parameters) if parameters else None).to_arrow_table()
    except TrustError:
        raise
    except duckdb.Error as exc:
        raise map_engine_error(exc, timeout_s=limits.timeout_s, departments=departments) from exc
    finally:
        if timer is not None:
            timer.cancel()
        if con is not None:
            con.close()
    return Execution(table=table, elapsed_s=time.perf_counter() - start)
