"""A DuckDB connection that can read only the catalogue's files, and nothing else.

Defence in depth behind the SQL allow-list (DESIGN section 10): httpfs is loaded from the
``duckdb-extension-httpfs`` wheel, department secrets are created, access is narrowed to the
catalogue's locations, then external access is switched off and the configuration locked.
No extension is autoloaded or installed, memory and threads are capped; a query over its memory
limit spills to a private folder outside the trust's home (``spill_dir``), removed when it ends.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import duckdb_extension_httpfs

from trust.errors import ConfigurationError

HTTPFS = (
    Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
)


@dataclass(frozen=True)
class Secret:
    """A department credential as DuckDB's secret manager takes it; ``kind`` is 's3' or 'http'."""

    name: str
    kind: str
    scope: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Access:
    """What one engine may read: exact files, directory prefixes, and the secrets for them."""

    paths: tuple[str, ...] = ()
    directories: tuple[str, ...] = ()
    secrets: tuple[Secret, ...] = ()


@dataclass(frozen=True)
class Limits:
    memory_limit: str = "2GB"
    threads: int = 2
    timeout_s: float = 60.0
    http_timeout_s: float = 10.0  # one HTTP or S3 request (connect, or a read that stalls) to a department
    http_retries: int = 1
    spill_dir: str = ""  # where a query over its memory limit spills (a private folder each); "" = never
    spill_limit: str = "20GB"


_S3_PARAMS = {"key_id", "secret", "region", "endpoint", "url_style", "use_ssl", "session_token"}
_HTTP_PARAMS = {"bearer_token"}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create_secret(con: duckdb.DuckDBPyConnection, secret: Secret) -> None:
    allowed = _S3_PARAMS if secret.kind == "s3" else _HTTP_PARAMS if secret.kind == "http" else None
    if allowed is None:
        raise ConfigurationError(f"Credential {secret.name!r} has unknown type {secret.kind!r}; use 's3' or 'http'.")
    parts = [f"TYPE {secret.kind}"]
    for key, value in secret.params:
        if key not in allowed:
            raise ConfigurationError(
                f"Credential {secret.name!r} has unknown field {key!r}; allowed: {sorted(allowed)}."
            )
        if key == "use_ssl":
            parts.append(f"USE_SSL {'true' if str(value).lower() in {'1', 'true', 'yes'} else 'false'}")
        else:
            parts.append(f"{key.upper()} {_literal(str(value))}")
    parts.append(f"SCOPE {_literal(secret.scope)}")
    name = "".join(ch for ch in secret.name if ch.isalnum() or ch == "_") or "secret"
    con.execute(f"CREATE TEMPORARY SECRET {name} ({', '.join(parts)})")


def _spill_folder(limits: Limits) -> str:
    """A folder of its own for one sandbox to spill to (DuckDB makes it on first spill and removes it
    when the connection closes), named for this process so a sweep can tell it from a live one's."""
    if not limits.spill_dir or limits.spill_limit.strip() in ("", "0"):
        return ""
    root = Path(limits.spill_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(root / f"{os.getpid()}-{uuid.uuid4().hex}")


def sweep_spill(spill_dir: str) -> int:
    """Remove what sandboxes of processes that no longer run left in ``spill_dir`` (after a crash or
    ``kill -9``); how many folders were removed."""
    root = Path(spill_dir) if spill_dir else None
    if root is None or not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if not folder.is_dir() or not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_sandbox(access: Access, limits: Limits, *, metadata_cache: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reads only ``access`` and cannot be reconfigured.

    ``metadata_cache`` keeps Parquet footers for the connection's life, so discovery's several
    metadata queries read each footer once. A query that needs more than the memory limit spills
    to a private folder under ``limits.spill_dir``, at most ``limits.spill_limit``, removed on close.
    """
    spill = _spill_folder(limits)
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
            "temp_directory": spill,
            "threads": limits.threads,
            "memory_limit": limits.memory_limit,
        },
    )
    try:
        con.execute(f"LOAD {_literal(str(HTTPFS))}")
        for secret in access.secrets:
            _create_secret(con, secret)
        # Measured: the external file cache merges nearby ranges and fetches 25-29% more bytes.
        con.execute("SET enable_external_file_cache = false")
        con.execute("SET enable_http_metadata_cache = false")
        con.execute(f"SET parquet_metadata_cache = {'true' if metadata_cache else 'false'}")
        # A department that stops answering ends a request within http_timeout (DuckDB's default is 30 s,
        # three retries): the query's own limit then holds (trust.engine.execute).
        con.execute(f"SET http_timeout = {max(1, round(limits.http_timeout_s))}")
        con.execute(f"SET http_retries = {int(limits.http_retries)}")
        # Each HTTP/S3 request, once answered, is logged in the connection's memory: the bytes a running
        # query has read so far come from there (trust.engine.execute), and go when the sandbox closes.
        con.execute("CALL enable_logging('HTTP')")
        if spill:
            con.execute(f"SET max_temp_directory_size = {_literal(limits.spill_limit)}")
        con.execute("SET enable_global_s3_configuration = false")  # only the departments' own secrets
        con.execute(f"SET allowed_paths = [{', '.join(_literal(p) for p in access.paths)}]")
        con.execute(f"SET allowed_directories = [{', '.join(_literal(d) for d in access.directories)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con
