"""A DuckDB connection that can read only the catalogue's files, and nothing else.

Defence in depth behind the SQL allow-list (DESIGN section 10): httpfs is loaded from the
``duckdb-extension-httpfs`` wheel, department secrets are created, access is narrowed to the
catalogue's locations, then external access is switched off and the configuration locked.
No extension is autoloaded or installed, no temp directory exists, memory and threads are capped.
"""

from __future__ import annotations

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


def open_sandbox(access: Access, limits: Limits, *, metadata_cache: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reads only ``access`` and cannot be reconfigured.

    ``metadata_cache`` keeps Parquet footers for the connection's life, so discovery's several
    metadata queries read each footer once.
    """
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_unsigned_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
            "temp_directory": "",
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
        con.execute("SET enable_global_s3_configuration = false")  # only the departments' own secrets
        con.execute(f"SET allowed_paths = [{', '.join(_literal(p) for p in access.paths)}]")
        con.execute(f"SET allowed_directories = [{', '.join(_literal(d) for d in access.directories)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con
