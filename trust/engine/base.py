"""The query engine the service runs a plan on: DuckDB (the default) or Spark.

An engine takes the generated SQL (already written in its dialect: ``trust.sql.dialects``), the
datasets it reads and the access that covers exactly their files, runs it within the query's limits,
and returns the result as Arrow with the footer digests of the files it read (``Execution``). What
the engine returns is then protected exactly as before: both engines compute the same companion
columns, so disclosure control cannot tell which one ran.

A ``Control`` passed to ``run`` is how the service cancels a running query (DuckDB's ``interrupt()``,
Spark's ``interruptTag``: the caller is answered with ``QueryCancelled`` at once) and how the engine
reports the bytes it has read so far.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from trust.engine.control import Control
from trust.engine.execute import Execution, execute
from trust.engine.pool import SandboxPool
from trust.engine.sandbox import Access, Limits
from trust.errors import ConfigurationError

if TYPE_CHECKING:
    from trust.catalog.model import Dataset
    from trust.config import Config

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    name: str

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
    ) -> Execution: ...

    def close(self) -> None: ...


class DuckDBEngine:
    """Each query in a fresh, locked-down DuckDB sandbox opened ahead of time (``SandboxPool``)."""

    name = "duckdb"

    def __init__(self) -> None:
        self.sandboxes = SandboxPool()

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
        return execute(
            sql,
            access,
            limits,
            departments=departments,
            parameters=parameters,
            verify=verify,
            on_finish=on_finish,
            wait_s=wait_s,
            sandboxes=self.sandboxes,
            control=control,
        )

    def close(self) -> None:
        self.sandboxes.close()


def engine_for(config: Config) -> Engine:
    """The engine ``trust.toml`` names; Spark's session starts in the background now."""
    name = str(config.engine).strip().lower()
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        try:  # the spark extra: not in the runtime (requirements/runtime.lock)
            from trust.engine.spark.engine import SparkEngine, settings_from
        except ImportError as exc:
            raise ConfigurationError(
                f"Setting 'engine' is 'spark' but {exc.name} is not installed: pip install -r "
                "requirements/spark.lock (or 'labour-market-data-trust[spark]'), or set engine = \"duckdb\"."
            ) from None

        return SparkEngine(settings_from(config))
    raise ConfigurationError(
        f"Setting 'engine' must be one of {', '.join(ENGINES)}, got {config.engine!r}. Fix it in trust.toml "
        "or the TRUST_ENGINE environment variable."
    )
