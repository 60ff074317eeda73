"""``trust_parquet``: the Spark data source that reads the departments' Parquet files in place.

    >>> df = read(spark, ["http://127.0.0.1:8001/uc_claims/part-0000.parquet"],
    ...           [("person_id", "STRING"), ("award_amount", "DOUBLE")], None)    # doctest: +SKIP

* **Exactly the files given.** HTTP has no directory listing, so :func:`read` takes the concrete
  files (the catalogue lists them) and never globs.
* **Planned on the driver.** ``partitions()`` runs in the driver's Python planner: it reads each
  file's footer (over HTTP, mostly one suffix ``Range`` request), checks each requested column is
  there with a type that casts to the Spark one, and groups row groups into partitions of
  consecutive row groups (about ``_PARTITION_BYTES`` of the requested columns each). A partition carries its
  file's footer, size and ETag, so executors fetch only column chunks, and notice a changed file.
* **Read with pyarrow on the executors**: local paths directly, ``http(s)://`` through ``Range``
  requests (:class:`_HttpFile`), ``s3://`` through ``pyarrow.fs.S3FileSystem``. Only the
  partition's row groups and requested columns are fetched, cast to the Spark types and yielded
  as Arrow record batches.
* **Column pruning is the caller's.** Spark 4.3 gives a Python data source's reader the whole
  declared schema (its ``PythonScanBuilder`` does not implement
  ``SupportsPushDownRequiredColumns``), so what is fetched is exactly ``columns``: pass only the
  columns a query uses.
* **Row groups are skipped only on request.** With ``skip_row_groups``, ``pushFilters`` keeps
  simple comparisons to test against row groups' min/max and null counts, and hands every filter
  back to Spark, which still applies each one. But Spark 4.3 plans a Python data source once per
  DataFrame (``PythonDataSourceV2`` keeps one ``readInfo``) and gives that plan to *every* scan of
  it: a second scan with other filters, or none, would miss the skipped rows. So skipping is only
  right for a DataFrame that one query scans once, and is off by default.
* **Credentials** travel in the data source's options (``explain`` does not show them) to the
  executors that read the files, and go only to files inside the secret's scope.
* **Failures** raise :class:`~trust.errors.DatasetUnavailable` naming the file, its department's
  host and what happened, never a credential. Raised in a Python worker, it reaches the driver as
  text inside Spark's exception; :func:`unavailable` recovers it.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    EqualNullSafe,
    EqualTo,
    Filter,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    InputPartition,
    IsNotNull,
    IsNull,
    LessThan,
    LessThanOrEqual,
    StringStartsWith,
)
from pyspark.sql.types import StructType

from trust.engine.sandbox import Secret
from trust.errors import ConfigurationError, DatasetUnavailable, did_you_mean

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["PUSHDOWN_CONF", "SOURCE_NAME", "TrustParquet", "read", "register", "spark_type", "unavailable"]

# trust.engine.spark.session.SOURCE_NAME too; not imported from there, as the session imports this module.
SOURCE_NAME = "trust_parquet"
PUSHDOWN_CONF = "spark.sql.python.filterPushdown.enabled"  # off by default; a reader with pushFilters needs it
_PARTITION_BYTES = 32 << 20  # compressed bytes of the requested columns per partition, about
_TAIL_BYTES = 16 << 10  # asked for with the request that learns a file's size: most footers fit
_BATCH_ROWS = 65_536
_FOOTER_MAX = 1 << 20  # footers up to this size ride with the partitions; larger ones are fetched again
_PLAN_THREADS = 8

# ---------------------------------------------------------------------------------------------
# Types


_SPARK_TYPES = {
    **dict.fromkeys(("VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "JSON", "UUID"), "STRING"),
    **dict.fromkeys(("BLOB", "BYTEA", "VARBINARY", "BINARY"), "BINARY"),
    **dict.fromkeys(("BOOLEAN", "BOOL", "LOGICAL"), "BOOLEAN"),
    **dict.fromkeys(("TINYINT", "INT1"), "TINYINT"),
    **dict.fromkeys(("SMALLINT", "INT2", "SHORT", "UTINYINT"), "SMALLINT"),
    **dict.fromkeys(("INTEGER", "INT", "INT4", "SIGNED", "USMALLINT"), "INT"),
    **dict.fromkeys(("BIGINT", "INT8", "LONG", "UINTEGER"), "BIGINT"),
    "UBIGINT": "DECIMAL(20,0)",
    **dict.fromkeys(("HUGEINT", "INT128", "UHUGEINT"), "DECIMAL(38,0)"),  # best effort: Spark stops at 38 digits
    **dict.fromkeys(("FLOAT", "REAL", "FLOAT4"), "FLOAT"),
    **dict.fromkeys(("DOUBLE", "FLOAT8"), "DOUBLE"),
    "DATE": "DATE",
    "TIME": "TIME(6)",
    # DuckDB's TIMESTAMP is a wall-clock time; WITH TIME ZONE an instant (Spark's TIMESTAMP, shown in UTC).
    **dict.fromkeys(
        ("TIMESTAMP", "DATETIME", "TIMESTAMP_US", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_NS"), "TIMESTAMP_NTZ"
    ),
    **dict.fromkeys(("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"), "TIMESTAMP"),
}
_DECIMAL = re.compile(r"(?:DECIMAL|NUMERIC)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")
_SPARK_DDL = re.compile(r"[A-Z_]+(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?", re.IGNORECASE)


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type (DDL) for a column DuckDB reports as ``duckdb_type`` in a Parquet file.

    >>> spark_type("VARCHAR"), spark_type("DECIMAL(9, 2)"), spark_type("TIMESTAMP")
    ('STRING', 'DECIMAL(9,2)', 'TIMESTAMP_NTZ')
    """
    name = " ".join(duckdb_type.upper().split())
    if name in _SPARK_TYPES:
        return _SPARK_TYPES[name]
    decimal = _DECIMAL.fullmatch(name)
    if decimal:
        precision, scale = int(decimal.group(1) or 18), int(decimal.group(2) or (3 if not decimal.group(1) else 0))
        if not 0 < precision <= 38 or scale > precision:
            raise ConfigurationError(
                f"Column type {duckdb_type} does not fit Spark's DECIMAL (at most 38 digits); "
                "the Spark engine cannot read this column."
            )
        return f"DECIMAL({precision},{scale})"
    raise ConfigurationError(
        f"Column type {duckdb_type!r} has no Spark equivalent the trust supports, so the Spark engine cannot "
        f"read this column.{did_you_mean(name, [*_SPARK_TYPES, 'DECIMAL'])} Supported: "
        f"{', '.join(sorted({*_SPARK_TYPES, 'DECIMAL(p,s)'}))}."
    )


def _is_uuid(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.uuid"


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    """``array`` as Spark's Arrow type for its column: a safe cast, except that finer timestamps truncate."""
    if array.type == target:
        return array
    if _is_uuid(array.type):
        if not pa.types.is_string(target):
            raise pa.ArrowNotImplementedError(f"UUID cannot be read as {target}")
        texts = [None if b is None else str(uuid.UUID(bytes=b)) for b in array.storage.to_pylist()]
        return pa.array(texts, pa.string())
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return pc.cast(array, options=pc.CastOptions(target_type=target, allow_time_truncate=True))


# ---------------------------------------------------------------------------------------------
# Where a file is, and failing with a message that names it


@dataclass(frozen=True)
class _Where:
    """A file as a message may show it (no query string, no user info) and the host that serves it."""

    file: str
    host: str

    @classmethod
    def of(cls, url: str, secret: Secret | None) -> _Where:
        if url.startswith("s3://"):
            bucket = url[5:].split("/", 1)[0]
            endpoint = _endpoint(secret)[1]
            return cls(
                url.split("?", 1)[0], f"S3 store {endpoint}, bucket {bucket}" if endpoint else f"S3 bucket {bucket}"
            )
        if url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            host = parts.hostname or "?"
            host = f"{host}:{parts.port}" if parts.port else host
            return cls(f"{parts.scheme}://{host}{parts.path}", f"department server {host}")
        return cls(_local_path(url), "local disk")

    def fail(self, what: str, secret: Secret | None = None) -> DatasetUnavailable:
        what = _redact(" ".join(what.split()), secret)  # one line, so ``unavailable`` can find it again
        return DatasetUnavailable(f"Could not read {self.file} ({self.host}): {what}", host=self.host, file=self.file)


def _redact(text: str, secret: Secret | None) -> str:
    for _, value in secret.params if secret else ():
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _in_scope(url: str, scope: str) -> bool:
    """``url`` is ``scope`` or below it: "s3://hmrc" covers "s3://hmrc/x", not "s3://hmrc-other/x"."""
    scope = scope.rstrip("/")
    return url == scope or url.startswith(scope + "/")


def _local_path(url: str) -> str:
    return url.removeprefix("file://")


def _endpoint(secret: Secret | None) -> tuple[str, str | None]:
    """The S3 scheme and ``host:port`` a secret names (DuckDB's ENDPOINT may leave the scheme out)."""
    params = dict(secret.params) if secret else {}
    scheme = "https" if str(params.get("use_ssl", "true")).lower() in {"1", "true", "yes"} else "http"
    endpoint = params.get("endpoint") or None
    if endpoint and "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return scheme, endpoint.rstrip("/") if endpoint else None


_UNAVAILABLE = re.compile(r"trust\.errors\.DatasetUnavailable: (Could not read [^\n]*)")


def unavailable(exc: BaseException) -> DatasetUnavailable | None:
    """The :class:`DatasetUnavailable` behind a failed Spark action, or None if it failed otherwise.

    A reader's exception crosses from the Python worker to the driver as text inside Spark's own
    exception (``PythonException``, or a Py4J error while planning); this finds the innermost one.
    """
    seen: set[int] = set()
    found: list[str] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.extend(_UNAVAILABLE.findall(str(current)))
        current = current.__cause__ or current.__context__
    if not found:
        return None
    message = found[-1].strip()
    host = re.match(r"Could not read (\S+) \(([^)]*)\)", message)
    return DatasetUnavailable(message, host=host.group(2) if host else None, file=host.group(1) if host else None)


# ---------------------------------------------------------------------------------------------
# HTTP: a seekable file over Range requests


class _HttpFile:
    """A read-only, seekable file over HTTP ``Range`` requests: what pyarrow needs to read Parquet.

    Opened without a size, it asks for the last ``_TAIL_BYTES`` (a suffix range): the size and, mostly,
    the whole footer in one request (:meth:`footer`). Every answer must be a 206 with the size and ETag
    first seen, so a file replaced since the query was planned fails instead of mixing two versions.
    """

    def __init__(
        self,
        url: str,
        where: _Where,
        secret: Secret | None,
        *,
        timeout_s: float,
        retries: int,
        size: int | None = None,
        etag: str | None = None,
    ) -> None:
        headers = {}
        token = dict(secret.params).get("bearer_token") if secret and secret.kind == "http" else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # No redirects (a credential must not follow one), no proxy or .netrc from the environment.
        self._client = httpx.Client(headers=headers, timeout=timeout_s, follow_redirects=False, trust_env=False)
        self._url, self._where = url, where
        self._timeout_s, self._retries = timeout_s, retries
        self._pos = 0
        self._tail: tuple[int, bytes] = (0, b"")
        self.size, self.etag = size, etag
        self.closed = False
        if size is None:
            start, total, body = self._get(f"bytes=-{_TAIL_BYTES}")
            self.size, self._tail = total, (start, body)

    def _get(self, byte_range: str) -> tuple[int, int, bytes]:
        """(first byte, file size, body) of one ranged GET, retried on time-outs, broken connections and 5xx."""
        failure = ""
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                response = self._client.get(self._url, headers={"Range": byte_range})
            except httpx.TimeoutException:
                failure = f"the server did not answer within {self._timeout_s:g} s"
                continue
            except httpx.TransportError as exc:
                failure = f"the server could not be reached: {type(exc).__name__}"
                continue
            status = response.status_code
            if status == 206:
                return self._accept(response)
            if status == 429 or status >= 500:
                failure = f"the server answered HTTP {status}"
                continue
            raise self._where.fail(_http_refusal(status))
        tries = self._retries + 1
        raise self._where.fail(f"{failure} (tried {tries} time{'s' if tries > 1 else ''}).")

    def _accept(self, response: httpx.Response) -> tuple[int, int, bytes]:
        found = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", response.headers.get("content-range", "").strip())
        if not found:
            raise self._where.fail("the server sent a partial response without a valid Content-Range.")
        etag = response.headers.get("etag")
        if (self.etag and etag and etag != self.etag) or (self.size is not None and int(found.group(3)) != self.size):
            raise self._where.fail("the file changed on the server since the query was planned; run it again.")
        self.etag = self.etag or etag
        return int(found.group(1)), int(found.group(3)), response.content

    def footer(self) -> pq.FileMetaData:
        """The file's footer, from the tail fetched on opening (and one more request if it is longer)."""
        tail_start, tail = self._tail
        assert self.size is not None
        length = int.from_bytes(tail[-8:-4], "little") if len(tail) >= 12 else -1
        if tail[-4:] != b"PAR1" or not 0 < length <= self.size - 12:
            raise self._where.fail("not a Parquet file (its last bytes are not a Parquet footer).")
        need = length + 8
        if need > len(tail):
            start = self.size - need
            first, _, more = self._get(f"bytes={start}-{tail_start - 1}")
            if first != start or len(more) != tail_start - start:
                raise self._where.fail("the server sent a different byte range than was asked for.")
            tail_start, tail = start, more + tail
            self._tail = (tail_start, tail)
        # A footer parses on its own behind the magic; its offsets still point into the real file.
        return pq.read_metadata(pa.BufferReader(b"PAR1" + tail[-need:]))

    # The file protocol pyarrow.PythonFile uses.

    def read(self, size: int = -1) -> bytes:
        assert self.size is not None
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        if end <= self._pos:
            return b""
        start = self._pos
        tail_start, tail = self._tail
        if tail and start >= tail_start and end <= tail_start + len(tail):
            data = tail[start - tail_start : end - tail_start]
        else:
            first, _, data = self._get(f"bytes={start}-{end - 1}")
            if first != start or len(data) != end - start:
                raise self._where.fail("the server sent a different byte range than was asked for.")
        self._pos = end
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        assert self.size is not None
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._client.close()


def _http_refusal(status: int) -> str:
    if status == 404:
        return "no such file (HTTP 404). Check the dataset's registered location."
    if status in (401, 403):
        return f"access refused (HTTP {status}). Check the credential the trust holds for this department."
    if status == 200:
        return "the server ignores Range requests (it answered 200), which reading Parquet in place needs."
    if status == 416:
        return "the file is empty or shorter than its footer says (HTTP 416)."
    if 300 <= status < 400:
        return f"the server redirects elsewhere (HTTP {status}); register the final location."
    return f"the server answered HTTP {status}."


# ---------------------------------------------------------------------------------------------
# Opening files


def _s3_filesystem(secret: Secret | None, timeout_s: float, retries: int) -> pafs.S3FileSystem:
    params = dict(secret.params) if secret else {}
    scheme, endpoint = _endpoint(secret)
    credentials: dict[str, Any] = (
        {
            "access_key": params.get("key_id"),
            "secret_key": params.get("secret"),
            "session_token": params.get("session_token") or None,
        }
        if secret
        else {"anonymous": True}  # never the process's own AWS identity
    )
    return pafs.S3FileSystem(
        **credentials,
        region=params.get("region") or None,
        scheme=scheme,
        endpoint_override=endpoint,
        force_virtual_addressing=bool(endpoint) and params.get("url_style") == "vhost",
        connect_timeout=timeout_s,
        request_timeout=timeout_s,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=retries + 1),
    )


def _os_failure(exc: BaseException) -> str:
    """What an I/O or Arrow error says happened, in words an operator can act on."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, FileNotFoundError) or any(w in lowered for w in ("no_such_key", "nosuchkey", "does not exist")):
        return "no such file. Check the dataset's registered location."
    if "no_such_bucket" in lowered or "nosuchbucket" in lowered:
        return "no such bucket. Check the dataset's registered location."
    if isinstance(exc, PermissionError) or "access_denied" in lowered or "accessdenied" in lowered:
        return "access refused. Check the credential the trust holds for this department."
    if "network_connection" in lowered or "curlcode" in lowered or "couldn't connect" in lowered:
        return "the store could not be reached or did not answer in time."
    if "parquet magic bytes" in lowered or "thrift" in lowered:
        return "not a readable Parquet file."
    if not isinstance(exc, OSError):  # a decode or cast failure: its text can quote a value
        return f"the file could not be decoded as registered ({type(exc).__name__}); no value is shown."
    return f"{type(exc).__name__}: {text[:300]}"


@dataclass(frozen=True)
class _Config:
    """What every reader of one :func:`read` call knows; small and picklable (it goes to executors)."""

    files: tuple[str, ...]
    secret: Secret | None
    timeout_s: float
    retries: int

    def to_options(self) -> dict[str, str]:
        options = {"files": json.dumps(self.files), "timeout_s": repr(self.timeout_s), "retries": str(self.retries)}
        if self.secret is not None:
            s = self.secret
            options["secret"] = json.dumps([s.name, s.kind, s.scope, [list(p) for p in s.params]])
        return options

    @classmethod
    def from_options(cls, options: Any) -> _Config:
        secret = None
        if "secret" in options:
            name, kind, scope, params = json.loads(options["secret"])
            secret = Secret(name=name, kind=kind, scope=scope, params=tuple((str(k), str(v)) for k, v in params))
        return cls(
            files=tuple(json.loads(options.get("files", "[]"))),
            secret=secret,
            timeout_s=float(options.get("timeout_s", "10")),
            retries=int(options.get("retries", "1")),
        )

    def secret_for(self, url: str) -> Secret | None:
        return self.secret if self.secret is not None and _in_scope(url, self.secret.scope) else None

    @contextmanager
    def open(self, url: str, *, size: int | None = None, etag: str | None = None) -> Iterator[tuple[Any, Any]]:
        """``url`` opened for pyarrow, with its department's credentials and no one else's: the file
        pyarrow reads, and the handle under it (an :class:`_HttpFile` over HTTP)."""
        secret = self.secret_for(url)
        where = _Where.of(url, secret)
        handle: Any
        if url.startswith(("http://", "https://")):
            handle = _HttpFile(url, where, secret, timeout_s=self.timeout_s, retries=self.retries, size=size, etag=etag)
            source: Any = pa.PythonFile(handle, mode="r")
        elif url.startswith("s3://"):
            try:
                handle = source = _s3_filesystem(secret, self.timeout_s, self.retries).open_input_file(url[5:])
            except (OSError, pa.ArrowException) as exc:
                raise where.fail(_os_failure(exc), secret) from exc
        else:
            try:
                handle = source = pa.OSFile(_local_path(url), "rb")
            except OSError as exc:
                raise where.fail(_os_failure(exc)) from exc
        try:
            if size is not None and source.size() != size:
                raise where.fail(f"the file changed since the query was planned ({source.size()} bytes, not {size}).")
            yield source, handle
        finally:
            handle.close()


# ---------------------------------------------------------------------------------------------
# Planning: footers, row-group statistics, partitions


@dataclass(frozen=True, eq=False)
class _Part(InputPartition):
    """Consecutive row groups of one file, with what an executor needs to read them and nothing else."""

    url: str
    row_groups: tuple[int, ...]
    size: int
    etag: str | None
    footer: pq.FileMetaData | None = field(repr=False)  # the file's footer, unless it is large


@dataclass(frozen=True)
class _Footer:
    url: str
    size: int
    etag: str | None
    metadata: pq.FileMetaData
    schema: pa.Schema


def _read_footer(config: _Config, url: str) -> _Footer:
    secret = config.secret_for(url)
    with config.open(url) as (source, handle):
        try:
            parquet = pq.ParquetFile(source, metadata=handle.footer() if isinstance(handle, _HttpFile) else None)
        except DatasetUnavailable:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise _Where.of(url, secret).fail(_os_failure(exc), config.secret) from exc
        etag = handle.etag if isinstance(handle, _HttpFile) else None
        return _Footer(url, int(source.size()), etag, parquet.metadata, parquet.schema_arrow)


def _check_columns(footer: _Footer, schema: StructType, targets: pa.Schema, secret: Secret | None) -> None:
    where = _Where.of(footer.url, secret)
    for column in schema.fields:
        index = footer.schema.get_field_index(column.name)
        if index < 0:
            raise where.fail(
                f"the file has no column {column.name!r}.{did_you_mean(column.name, footer.schema.names)} "
                "The department's file no longer matches its registration."
            )
        source_type = footer.schema.field(index).type
        try:
            target = targets.field(column.name).type
            if not _castable(source_type, target):
                raise TypeError
            _cast(pa.array([], type=source_type), target)
        except (pa.ArrowException, TypeError, ValueError):
            raise where.fail(
                f"column {column.name!r} is {source_type} in the file, which cannot be read as Spark's "
                f"{column.dataType.simpleString()}. The department's file no longer matches its registration."
            ) from None


def _group(t: pa.DataType) -> str:
    """A column's values are read as another type only within its group (a number as a wider number)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if _is_uuid(t):
        return "string"
    checks = (
        ("number", (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)),
        ("string", (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)),
        ("binary", (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)),
        ("bool", (pa.types.is_boolean,)),
        ("date", (pa.types.is_date,)),
        ("timestamp", (pa.types.is_timestamp,)),
        ("time", (pa.types.is_time,)),
    )
    return next((name for name, tests in checks if any(test(t) for test in tests)), str(t))


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    return source == target or _group(source) == _group(target)


def _kind(source: pa.DataType, target: pa.DataType) -> str | None:
    """How a row group's min/max of a ``source`` column read as ``target`` compare with Spark's filter
    values: their group, "float" (no NaN in the statistics), or None (never trusted)."""
    group = _group(source)
    if group != _group(target) or group not in ("number", "string", "bool", "date", "timestamp"):
        return None
    source = source.value_type if pa.types.is_dictionary(source) else source
    if group == "timestamp" and (source.unit == "ns" or (source.tz is None) != (target.tz is None)):
        return None  # nanoseconds are truncated when read; wall-clock and instant values do not compare
    if group == "number" and (pa.types.is_floating(source) or pa.types.is_floating(target)):
        return "float"
    return group


@dataclass(frozen=True)
class _Stats:
    rows: int
    nulls: int | None
    low: Any
    high: Any


def _stats(metadata: pq.FileMetaData, row_group: int, leaf: int) -> _Stats:
    group = metadata.row_group(row_group)
    chunk = group.column(leaf)
    s = chunk.statistics if chunk.is_stats_set else None
    if s is None:
        return _Stats(group.num_rows, None, None, None)
    nulls = s.null_count if s.has_null_count else None
    low, high = (s.min, s.max) if s.has_min_max else (None, None)
    return _Stats(group.num_rows, nulls, low, high)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _may_match(f: Filter, s: _Stats, kind: str | None) -> bool:
    """False only when no row of the row group can satisfy ``f``; True whenever in doubt."""
    try:
        return _test(f, s, kind)
    except (TypeError, ValueError, ArithmeticError):  # values Python cannot compare: keep the row group
        return True


def _test(f: Filter, s: _Stats, kind: str | None) -> bool:
    if isinstance(f, IsNull) or (isinstance(f, EqualNullSafe) and f.value is None):
        return s.nulls is None or s.nulls > 0
    if s.nulls is not None and s.nulls >= s.rows:
        return False  # all NULL: no comparison, IS NOT NULL included, holds
    if isinstance(f, IsNotNull) or kind is None or s.low is None or s.high is None:
        return True
    low, high = s.low, s.high

    def within(v: Any) -> bool:
        # Spark orders NaN above every number and Parquet's min/max leave NaN out.
        return v is not None and (_is_nan(v) or low <= v <= high)

    if isinstance(f, (EqualTo, EqualNullSafe)):
        return within(f.value)
    if isinstance(f, In):
        return any(within(v) for v in f.value)
    if isinstance(f, (GreaterThan, GreaterThanOrEqual)) and kind == "float":
        return True  # a NaN the statistics do not show would be greater
    if isinstance(f, GreaterThan):
        return bool(high > f.value)
    if isinstance(f, GreaterThanOrEqual):
        return bool(high >= f.value)
    if isinstance(f, LessThan):
        return _is_nan(f.value) or bool(low < f.value)
    if isinstance(f, LessThanOrEqual):
        return _is_nan(f.value) or bool(low <= f.value)
    if isinstance(f, StringStartsWith) and kind == "string" and f.value:
        # Strings starting with p lie in [p, p with its last character incremented).
        if high < f.value:
            return False
        last = ord(f.value[-1])
        return last >= 0x10FFFF or low < f.value[:-1] + chr(last + 1)
    return True


_SKIPPING = (
    EqualTo,
    EqualNullSafe,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    In,
    IsNull,
    IsNotNull,
    StringStartsWith,
)


def _plan_file(footer: _Footer, schema: StructType, targets: pa.Schema, filters: Sequence[Filter]) -> list[_Part]:
    metadata = footer.metadata
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    names = [f.name for f in schema.fields]
    tests = []
    for f in filters:
        name = f.attribute[0]  # type: ignore[attr-defined]  # every filter kept has one
        if name in leaves and name in targets.names:
            tests.append((f, leaves[name], _kind(footer.schema.field(name).type, targets.field(name).type)))
    keep = [
        rg
        for rg in range(metadata.num_row_groups)
        if metadata.row_group(rg).num_rows > 0
        and all(_may_match(f, _stats(metadata, rg, leaf), kind) for f, leaf, kind in tests)
    ]
    wanted = [leaves[n] for n in names if n in leaves]
    footer_rides = metadata if metadata.serialized_size <= _FOOTER_MAX else None
    parts: list[_Part] = []
    run: list[int] = []
    run_bytes = 0
    for rg in keep:
        group = metadata.row_group(rg)
        rg_bytes = sum(group.column(leaf).total_compressed_size for leaf in wanted)
        if run and (run[-1] != rg - 1 or run_bytes + rg_bytes > _PARTITION_BYTES):
            parts.append(_Part(footer.url, tuple(run), footer.size, footer.etag, footer_rides))
            run, run_bytes = [], 0
        run.append(rg)
        run_bytes += rg_bytes
    if run:
        parts.append(_Part(footer.url, tuple(run), footer.size, footer.etag, footer_rides))
    return parts


# ---------------------------------------------------------------------------------------------
# The data source


class _Reader(DataSourceReader):
    """Plans partitions from the footers (``partitions``) and reads them (``read``). Pickled to executors."""

    def __init__(self, config: _Config, schema: StructType) -> None:
        self.config = config
        self.schema = schema
        self.filters: list[Filter] = []

    def partitions(self) -> list[InputPartition]:
        targets = _arrow_schema(self.schema)
        files = self.config.files
        if not files:
            return []
        with ThreadPoolExecutor(max_workers=min(_PLAN_THREADS, len(files)), thread_name_prefix="trust-footer") as pool:
            footers = list(pool.map(lambda url: _read_footer(self.config, url), files))
        parts: list[InputPartition] = []
        for footer in footers:
            _check_columns(footer, self.schema, targets, self.config.secret_for(footer.url))
            parts.extend(_plan_file(footer, self.schema, targets, self.filters))
        return parts

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        if not isinstance(partition, _Part):
            return  # no files, or every row group skipped: Spark still asks for one partition
        targets = _arrow_schema(self.schema)
        names = targets.names
        secret = self.config.secret_for(partition.url)
        where = _Where.of(partition.url, secret)
        with self.config.open(partition.url, size=partition.size, etag=partition.etag) as (source, _):
            try:
                parquet = pq.ParquetFile(source, metadata=partition.footer, coerce_int96_timestamp_unit="us")
                if not names:  # COUNT(*): the footer has the row counts, no column is fetched
                    for rg in partition.row_groups:
                        rows = parquet.metadata.row_group(rg).num_rows
                        yield pa.RecordBatch.from_struct_array(pa.array([{}] * rows, pa.struct([])))
                    return
                batches = parquet.iter_batches(
                    batch_size=_BATCH_ROWS, row_groups=list(partition.row_groups), columns=names, use_threads=False
                )
                for batch in batches:
                    columns = [_cast(batch.column(name), targets.field(name).type) for name in names]
                    yield pa.RecordBatch.from_arrays(columns, schema=targets)
            except DatasetUnavailable:
                raise
            except (OSError, pa.ArrowException) as exc:
                raise where.fail(_os_failure(exc), secret) from exc


class _SkippingReader(_Reader):
    """A reader that also receives the query's filters, to skip row groups (needs ``PUSHDOWN_CONF``)."""

    def pushFilters(self, filters: list[Filter]) -> list[Filter]:
        self.filters = [f for f in filters if isinstance(f, _SKIPPING) and len(f.attribute) == 1]
        return list(filters)  # all of them: Spark applies every filter itself


def _arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark requires of the batches a Python data source yields."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC")


class TrustParquet(DataSource):
    """The ``trust_parquet`` format: Parquet files read in place. Use :func:`read`, which sets its options."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> str:
        raise ConfigurationError("The trust_parquet data source needs its columns declared; use source.read().")

    def reader(self, schema: StructType) -> DataSourceReader:
        config = _Config.from_options(self.options)
        skipping = str(self.options.get("skip_row_groups", "false")).lower() == "true"
        return (_SkippingReader if skipping else _Reader)(config, schema)


# ---------------------------------------------------------------------------------------------
# Public API

_registered: weakref.WeakSet[Any] = weakref.WeakSet()
_register_lock = threading.Lock()


def register(session: SparkSession) -> None:
    """Make ``trust_parquet`` readable in ``session`` and let its readers skip row groups (idempotent)."""
    with _register_lock:
        if session in _registered:
            return
        session.conf.set(PUSHDOWN_CONF, "true")
        session.dataSource.register(TrustParquet)
        _registered.add(session)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def read(
    session: SparkSession,
    files: Sequence[str],
    columns: Sequence[tuple[str, str]],
    secret: Secret | None,
    *,
    timeout_s: float = 10.0,
    retries: int = 1,
    skip_row_groups: bool = False,
) -> DataFrame:
    """A DataFrame over exactly ``files`` with ``columns`` ((name, Spark DDL type) pairs, see :func:`spark_type`).

    Only ``columns`` are fetched, so pass only those a query uses. ``secret`` (one department's) is
    sent only to files inside its scope; ``timeout_s`` and ``retries`` apply to each request.
    Nothing is read until Spark runs a query over the DataFrame.

    ``skip_row_groups`` lets the query's filters rule out row groups by their statistics. Only turn
    it on for a DataFrame that one query scans once (see the module docstring): Spark 4.3 plans a
    Python data source once per DataFrame and hands that plan to every scan of it.
    """
    files, columns = tuple(files), tuple(columns)
    if len(set(files)) != len(files):
        raise ConfigurationError("The same file is listed twice for one dataset; each file is read once.")
    seen: set[str] = set()
    for name, ddl in columns:
        if name.lower() in seen:
            raise ConfigurationError(f"Column {name!r} is listed twice (Spark's names ignore case).")
        seen.add(name.lower())
        if not _SPARK_DDL.fullmatch(ddl.strip()):
            raise ConfigurationError(f"Column {name!r} has type {ddl!r}, which is not a Spark type; use spark_type().")
    for url in files:
        _check_location(url, secret)
    if timeout_s <= 0 or retries < 0:
        raise ConfigurationError("timeout_s must be positive and retries zero or more.")
    config = _Config(files, secret, float(timeout_s), int(retries))
    register(session)  # a session from newSession() has neither the registration nor the setting
    # Without the setting Spark refuses a reader that takes filters; reading everything is still right.
    skipping = skip_row_groups and str(session.conf.get(PUSHDOWN_CONF, "false")).lower() == "true"
    schema = ", ".join(f"{_quote(name)} {ddl.strip()}" for name, ddl in columns) or StructType([])
    return (
        session.read.format(SOURCE_NAME)
        .schema(schema)
        .options(**config.to_options(), skip_row_groups=str(skipping).lower())
        .load()
    )


def _check_location(url: str, secret: Secret | None) -> None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme not in ("file", "http", "https", "s3"):
        raise ConfigurationError(
            f"Cannot read {url.split('?', 1)[0]}: the Spark engine reads local, HTTP(S) and S3 files."
        )
    if any(ch in url for ch in "*?[") and scheme in ("file", "s3"):
        raise ConfigurationError(f"{url} is a pattern; pass the files it matches (the catalogue lists them).")
    if secret is None:
        return
    if secret.kind not in ("s3", "http"):
        raise ConfigurationError(f"Credential {secret.name!r} has unknown type {secret.kind!r}; use 's3' or 'http'.")
    if not _in_scope(url, secret.scope) or (secret.kind == "s3") != (scheme == "s3"):
        raise ConfigurationError(
            f"Credential {secret.name!r} (for {secret.scope}) does not belong to {_Where.of(url, None).file}; "
            "a department's credential is only sent to its own files."
        )
