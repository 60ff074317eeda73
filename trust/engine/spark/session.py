"""One long-lived, locked-down Spark session per trust process.

Started in the background (``start``) when a trust that runs on Spark opens, so the first query does
not pay the JVM's start-up; ``get`` waits for it. Every session is started with the settings that
keep Spark SQL from being more than a query engine over the views the trust registers: no SQL over
paths (``spark.sql.runSQLOnFiles=false``), no UI, no Hive catalogue, a fixed memory size. What the
generated SQL itself may say is checked separately (``trust.engine.spark.guard``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trust.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("trust.engine.spark")

SOURCE_NAME = "trust_parquet"  # the Python data source's short name (trust.engine.spark.source)


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[2]"  # local[N], spark://host:port, k8s://..., or sc://host:port (Spark Connect)
    driver_memory: str = "2g"
    executor_memory: str = "2g"
    shuffle_partitions: int = 4
    start_timeout_s: float = 180.0


def _java_home() -> str | None:
    """The JDK Spark will use: ``JAVA_HOME`` if set, else the one ``java`` on PATH belongs to."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        return None
    return os.path.dirname(os.path.dirname(os.path.realpath(java)))


def java_version() -> int | None:
    """The major version of the Java that Spark would start, or None if there is none."""
    home = _java_home()
    java = os.path.join(home, "bin", "java") if home else None
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    for token in out.replace('"', " ").split():
        head = token.split(".")[0]
        if head.isdigit() and "." in token:
            major = int(head)
            return int(token.split(".")[1]) if major == 1 else major
    return None


LOCKED_CONF: dict[str, str] = {
    "spark.sql.runSQLOnFiles": "false",  # no `parquet`.`/path` tables
    "spark.ui.enabled": "false",
    "spark.sql.catalogImplementation": "in-memory",  # no Hive metastore, no warehouse writes
    "spark.sql.ansi.enabled": "false",  # NULL on overflow and bad casts, as DuckDB's generated SQL expects
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",  # timestamps without a zone, as DuckDB's TIMESTAMP
    "spark.sql.legacy.setCommandRejectsSparkCoreConfs": "true",
    "spark.python.worker.reuse": "true",
    # The lockdown (trust.engine.spark.guard checks these before every query). Static, so SET cannot undo them:
    "spark.sql.restrictedMode.enabled": "true",  # Spark refuses reflect, java_method, try_reflect, TRANSFORM USING
    "spark.sql.reflect.allowList": "(?!)",  # a non-empty allow-list matching no class.method (empty allows all)
    # Runtime settings, held by the guard's ban on SET and by guard.verify_session:
    "spark.sql.variable.substitute": "false",  # '${env:X}', '${system:X}', '${spark.x}' stay text
    "spark.sql.scripting.enabled": "false",  # no BEGIN ... END: one statement per call
    "spark.sql.path.enabled": "false",  # no SET PATH: function names resolve to the built-ins
    "spark.sql.parser.escapedStringLiterals": "false",  # string escapes as sqlglot's Spark dialect reads them
    "spark.sql.ansi.doubleQuotedIdentifiers": "false",  # "x" is a string, as sqlglot's Spark dialect reads it
}


def _build(settings: SparkSettings) -> SparkSession:
    from pyspark.sql import SparkSession

    if settings.master.startswith("sc://"):
        builder = SparkSession.builder.remote(settings.master)
    else:
        version = java_version()
        if version not in (17, 21):
            raise ConfigurationError(
                f"The Spark engine needs Java 17 or 21; found {version or 'no Java'}. Install a JDK 17 "
                "(Debian: openjdk-17-jdk-headless) or set JAVA_HOME to one."
            )
        builder = (
            SparkSession.builder.master(settings.master)
            .config("spark.driver.memory", settings.driver_memory)
            .config("spark.executor.memory", settings.executor_memory)
        )
        if settings.master.startswith("local"):
            # Python workers run this interpreter (its pyarrow and the trust's reader); a cluster's
            # executors bring their own (docs/engines.md).
            builder = builder.config("spark.pyspark.python", sys.executable).config(
                "spark.pyspark.driver.python", sys.executable
            )
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = builder.appName("labour-market-data-trust").config(
        "spark.sql.shuffle.partitions", str(settings.shuffle_partitions)
    )
    for key, value in LOCKED_CONF.items():
        builder = builder.config(key, value)
    if not settings.master.startswith("sc://"):
        # Spark makes its (unused: the catalogue is in memory) warehouse folder where it is told, by default
        # in the working directory; keep it out of whatever folder the trust was started in.
        warehouse = Path(tempfile.gettempdir()) / f"trust-spark-warehouse-{os.getpid()}"
        builder = builder.config("spark.sql.warehouse.dir", warehouse.as_uri())
    session = builder.getOrCreate()
    from trust.engine.spark.source import register

    register(session)
    return session


class _Starter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.session: SparkSession | None = None
        self.error: BaseException | None = None
        self.settings: SparkSettings | None = None
        self.thread: threading.Thread | None = None

    def start(self, settings: SparkSettings) -> None:
        with self.lock:
            if self.thread is not None:
                if settings != self.settings:
                    raise ConfigurationError(
                        "This process already runs a Spark session with other settings; one trust process "
                        "runs one Spark session (restart it to change spark_master or the memory sizes)."
                    )
                return
            self.settings = settings
            self.thread = threading.Thread(target=self._run, name="trust-spark-start", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        assert self.settings is not None
        try:
            self.session = _build(self.settings)
            log.info("Spark session ready on %s", self.settings.master)
        except BaseException as exc:  # noqa: BLE001 - reported to whoever waits for the session
            self.error = exc
            log.warning("Spark session failed to start: %s", exc)
        finally:
            self.ready.set()

    def get(self, settings: SparkSettings) -> Any:
        self.start(settings)
        if not self.ready.wait(settings.start_timeout_s):
            raise ConfigurationError(
                f"The Spark session did not start within {settings.start_timeout_s:g} s on {settings.master}; "
                "check that the master is reachable and Java is installed, then try again."
            )
        if self.error is not None:
            if isinstance(self.error, ConfigurationError):
                raise self.error
            raise ConfigurationError(
                f"The Spark session could not start on {settings.master}: {type(self.error).__name__}. "
                "Check spark_master and the Java installation (trust serve's log has the details)."
            )
        return self.session


_STARTER = _Starter()


def start(settings: SparkSettings) -> None:
    """Start the process's Spark session in the background (idempotent)."""
    _STARTER.start(settings)


def get(settings: SparkSettings) -> SparkSession:
    """The process's Spark session, waiting for it to start if it has not yet."""
    return _STARTER.get(settings)
