"""The ``trust_parquet`` data source against real department servers (HTTP and S3) and real files.

Spark runs on ``local[2]`` (the ``spark`` fixture); the departments' servers count the bytes they send,
so pruning and row-group skipping are measured from the data owner's side.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql.datasource import EqualTo, GreaterThan, In, IsNotNull, IsNull, LessThan, StringStartsWith

from tests.faults.proxy import FaultProxy
from trust.demo.servers import DepartmentServers
from trust.engine.sandbox import Secret
from trust.engine.spark import session as spark_session
from trust.engine.spark import source
from trust.engine.spark.source import _may_match, _Stats
from trust.errors import ConfigurationError, DatasetUnavailable

# Spark's Python workers must be this interpreter (it has pyarrow and the trust); set before the
# session starts, as ``trust.engine.spark.session`` should do itself.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

# ---------------------------------------------------------------------------------------------
# Helpers


def catalogue_columns(path: Path, names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(name, Spark type) as the catalogue registers a file's columns: DuckDB's types from its footer."""
    rows = duckdb.sql(
        f"SELECT name, duckdb_type FROM parquet_schema('{path}') "
        "WHERE num_children IS NULL OR num_children = 0 ORDER BY column_id"
    ).fetchall()
    types = dict(rows)
    return [(name, source.spark_type(types[name])) for name in (names or [n for n, _ in rows])]


def local_files(data_dir: Path, folder: str) -> list[Path]:
    return sorted((data_dir / folder).glob("part-*.parquet"))


def hmrc_secret(departments: DepartmentServers) -> Secret:
    e = departments.endpoints
    params = {
        "key_id": e.hmrc_key_id,
        "secret": e.hmrc_secret,
        "region": e.hmrc_region,
        "endpoint": e.hmrc_s3_endpoint,
        "url_style": "path",
        "use_ssl": "false",
    }
    return Secret("hmrc", "s3", f"s3://{e.hmrc_bucket}", tuple(sorted(params.items())))


def hmrc_urls(departments: DepartmentServers, data_dir: Path) -> list[str]:
    bucket = departments.endpoints.hmrc_bucket
    return [f"s3://{bucket}/paye_employments/{p.name}" for p in local_files(data_dir, "hmrc/paye_employments")]


def dwp_urls(departments: DepartmentServers, data_dir: Path) -> list[str]:
    base = departments.endpoints.dwp_url
    return [f"{base}/uc_claims/{p.name}" for p in local_files(data_dir, "dwp/uc_claims")]


def failure(exc: BaseException) -> DatasetUnavailable:
    found = source.unavailable(exc)
    assert found is not None, f"not a department failure: {type(exc).__name__}: {str(exc)[:500]}"
    return found


class _Files(ThreadingHTTPServer):
    """A folder over HTTP with single byte ranges, ETags and, if given, a bearer token it insists on;
    it records the Authorization header of every request."""

    def __init__(self, root: Path, token: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _FileHandler)
        self.root, self.token = root, token
        self.authorizations: list[str | None] = []
        self.url = f"http://127.0.0.1:{self.server_port}"


class _FileHandler(BaseHTTPRequestHandler):
    server: _Files

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        self.server.authorizations.append(auth)
        if self.server.token and auth != f"Bearer {self.server.token}":
            return self._send(401, b"", {})
        path = self.server.root / self.path.lstrip("/")
        if not path.is_file():
            return self._send(404, b"", {})
        data, stat = path.read_bytes(), path.stat()
        etag = f'"{stat.st_size}-{stat.st_mtime_ns}"'
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if not wanted:
            return self._send(200, data, {"ETag": etag})
        first, last = wanted.groups()
        start = int(first) if first else max(0, len(data) - int(last))
        end = min(int(last), len(data) - 1) if first and last else len(data) - 1
        headers = {"ETag": etag, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
        return self._send(206, data[start : end + 1], headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(root: Path, token: str | None = None) -> Iterator[_Files]:
    server = _Files(root, token)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_groups(path: Path, table: pa.Table, rows_per_group: int) -> Path:
    pq.write_table(table, path, row_group_size=rows_per_group)
    return path


# ---------------------------------------------------------------------------------------------
# Types

TYPE_CASES = [
    ("VARCHAR", "STRING"),
    ("varchar", "STRING"),
    ("BIGINT", "BIGINT"),
    ("INTEGER", "INT"),
    ("SMALLINT", "SMALLINT"),
    ("TINYINT", "TINYINT"),
    ("DOUBLE", "DOUBLE"),
    ("FLOAT", "FLOAT"),
    ("BOOLEAN", "BOOLEAN"),
    ("DATE", "DATE"),
    ("DECIMAL(9,2)", "DECIMAL(9,2)"),
    ("DECIMAL(38, 10)", "DECIMAL(38,10)"),
    ("DECIMAL", "DECIMAL(18,3)"),
    ("TIMESTAMP", "TIMESTAMP_NTZ"),
    ("TIMESTAMP_NS", "TIMESTAMP_NTZ"),
    ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP"),
    ("HUGEINT", "DECIMAL(38,0)"),
    ("UBIGINT", "DECIMAL(20,0)"),
    ("UINTEGER", "BIGINT"),
    ("BLOB", "BINARY"),
    ("UUID", "STRING"),
    ("TIME", "TIME(6)"),
]


@pytest.mark.parametrize(("duckdb_type", "expected"), TYPE_CASES)
def test_spark_type_maps_catalogue_types(duckdb_type: str, expected: str) -> None:
    assert source.spark_type(duckdb_type) == expected


@pytest.mark.parametrize(
    ("duckdb_type", "says"),
    [("VARCHR", "Did you mean 'VARCHAR'?"), ("INTERVAL", "no Spark equivalent"), ("INTEGER[]", "no Spark"),
     ("DECIMAL(40,2)", "at most 38 digits")],
)  # fmt: skip
def test_spark_type_refuses_what_it_cannot_map(duckdb_type: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        source.spark_type(duckdb_type)


def test_every_type_reads_back_as_written(spark: Any, tmp_path: Path) -> None:
    import datetime as dt
    import decimal
    import uuid

    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    table = pa.table(
        {
            "i8": pa.array([1, None], pa.int8()),
            "i16": pa.array([2, None], pa.int16()),
            "i32": pa.array([3, None], pa.int32()),
            "i64": pa.array([2**40, None], pa.int64()),
            "u32": pa.array([2**32 - 1, None], pa.uint32()),
            "u64": pa.array([2**64 - 1, None], pa.uint64()),
            "f32": pa.array([1.5, None], pa.float32()),
            "f64": pa.array([2.25, None], pa.float64()),
            "dec": pa.array([decimal.Decimal("12.34"), None], pa.decimal128(9, 2)),
            "s": pa.array(["x", None], pa.string()),
            "cat": pa.array(["a", None], pa.string()).dictionary_encode(),
            "b": pa.array([True, None], pa.bool_()),
            "d": pa.array([dt.date(2024, 4, 6), None], pa.date32()),
            "ts": pa.array([dt.datetime(2024, 4, 6, 12, 30, 1, 5), None], pa.timestamp("us")),
            "ts_ns": pa.array([1_700_000_000_123_456_789, None], pa.timestamp("ns")),
            "tz": pa.array([dt.datetime(2024, 4, 6, 12, tzinfo=dt.UTC), None], pa.timestamp("ms", tz="UTC")),
            "bin": pa.array([b"\x00\x01", None], pa.binary()),
            "t": pa.array([dt.time(1, 2, 3), None], pa.time64("us")),
            "id": pa.ExtensionArray.from_storage(pa.uuid(), pa.array([ident.bytes, None], pa.binary(16))),
        }
    )
    path = tmp_path / "types.parquet"
    pq.write_table(table, path)
    row, nulls = source.read(spark, [str(path)], catalogue_columns(path), None).collect()

    assert row.asDict() == {
        "i8": 1, "i16": 2, "i32": 3, "i64": 2**40, "u32": 2**32 - 1, "u64": decimal.Decimal(2**64 - 1),
        "f32": 1.5, "f64": 2.25, "dec": decimal.Decimal("12.34"), "s": "x", "cat": "a", "b": True,
        "d": dt.date(2024, 4, 6), "ts": dt.datetime(2024, 4, 6, 12, 30, 1, 5),
        "ts_ns": dt.datetime(2023, 11, 14, 22, 13, 20, 123456),
        "tz": dt.datetime(2024, 4, 6, 12, tzinfo=dt.UTC).astimezone().replace(tzinfo=None),
        "bin": bytearray(b"\x00\x01"), "t": dt.time(1, 2, 3), "id": str(ident),
    }  # fmt: skip
    assert all(value is None for value in nulls)


# ---------------------------------------------------------------------------------------------
# Reading in place: the same rows as the files


def test_http_read_is_the_files(spark: Any, departments: DepartmentServers, data_dir: Path) -> None:
    files = local_files(data_dir, "dwp/uc_claims")
    got = source.read(spark, dwp_urls(departments, data_dir), catalogue_columns(files[0]), None).toArrow()

    expected = pa.concat_tables(pq.read_table(f) for f in files)
    assert got.num_rows == expected.num_rows > 0
    assert got.equals(expected.cast(got.schema))


def test_s3_read_is_the_files(spark: Any, departments: DepartmentServers, data_dir: Path) -> None:
    files = local_files(data_dir, "hmrc/paye_employments")
    secret = hmrc_secret(departments)
    got = source.read(spark, hmrc_urls(departments, data_dir), catalogue_columns(files[0]), secret).toArrow()

    expected = pa.concat_tables(pq.read_table(f) for f in files)
    assert got.num_rows == expected.num_rows > 0
    assert got.equals(expected.cast(got.schema))


def test_local_read_is_the_files_and_counts_without_columns(spark: Any, data_dir: Path) -> None:
    files = local_files(data_dir, "dfe/learners")
    got = source.read(spark, [str(f) for f in files], catalogue_columns(files[0]), None).toArrow()
    expected = pa.concat_tables(pq.read_table(f) for f in files)
    assert got.equals(expected.cast(got.schema))
    # No column at all: COUNT(*) from the footers' row counts.
    assert source.read(spark, [str(f) for f in files], [], None).count() == expected.num_rows


def test_only_the_requested_columns_are_fetched(spark: Any, departments: DepartmentServers, data_dir: Path) -> None:
    files = local_files(data_dir, "dwp/uc_claims")
    urls = dwp_urls(departments, data_dir)
    wanted = ["sex", "region"]

    def served(columns: list[tuple[str, str]]) -> int:
        departments.reset_counters()
        source.read(spark, urls, columns, None).toArrow()
        return departments.bytes_served()["DWP"]

    everything = served(catalogue_columns(files[0]))
    pruned = served(catalogue_columns(files[0], wanted))

    # Bounded by the footers' own account: each file's tail (footer) plus the two columns' chunks.
    chunks = footers = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        leaves = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        footers += min(path.stat().st_size, 64 << 10)  # at most what pyarrow itself reads for a footer
        for rg in range(meta.num_row_groups):
            chunks += sum(meta.row_group(rg).column(leaves[name]).total_compressed_size for name in wanted)
    assert pruned <= footers + chunks + 2 * len(files) * (8 << 10)  # pyarrow coalesces across gaps under 8 KiB
    assert pruned < everything / 5


# ---------------------------------------------------------------------------------------------
# Row-group skipping: fewer row groups, the same answer

SKIP_CASES = [
    "tax_month = 2",
    "tax_month IN (2, 11)",
    "payment_date < DATE '2024-05-01'",
    "received_at >= TIMESTAMP '2025-03-01 00:00:00'",
    "tax_code LIKE 'BR%' AND tax_month < 4",
    "student_loan_deduction IS NULL",
    "gross_pay > 5000 AND tax_month = 7",
    "leaver_flag AND tax_month = 12",
]


@pytest.mark.parametrize("where", SKIP_CASES)
def test_skipping_gives_the_answer_duckdb_gives(spark: Any, data_dir: Path, where: str) -> None:
    files = local_files(data_dir, "hmrc/paye_employments")
    select = "SELECT count(*) AS n, min(submission_id) AS lo, max(submission_id) AS hi, sum(tax_month) AS m"
    listed = ", ".join(f"'{f}'" for f in files)
    expected = duckdb.sql(f"{select} FROM read_parquet([{listed}]) WHERE {where}").fetchone()

    df = source.read(spark, [str(f) for f in files], catalogue_columns(files[0]), None, skip_row_groups=True)
    df.createOrReplaceTempView("paye_skipping")
    got = spark.sql(f"{select} FROM paye_skipping WHERE {where}").collect()[0]
    assert tuple(got) == expected


def test_skipping_reads_fewer_row_groups_and_bytes(spark: Any, departments: DepartmentServers, data_dir: Path) -> None:
    files = local_files(data_dir, "hmrc/paye_employments")
    columns = catalogue_columns(files[0], ["tax_month", "gross_pay", "submission_id"])
    urls, secret = hmrc_urls(departments, data_dir), hmrc_secret(departments)
    query = "SELECT submission_id, gross_pay FROM paye_{} WHERE tax_month = 2"

    def run(skip: bool) -> tuple[int, int, list[Any]]:
        # A DataFrame per query: Spark plans a Python data source once per DataFrame.
        source.read(spark, urls, columns, secret, skip_row_groups=skip).createOrReplaceTempView(f"paye_{skip}")
        tasks = spark.sql(query.format(skip)).rdd.getNumPartitions()
        source.read(spark, urls, columns, secret, skip_row_groups=skip).createOrReplaceTempView(f"paye_{skip}")
        departments.reset_counters()
        rows = spark.sql(query.format(skip)).collect()
        return tasks, departments.bytes_served()["HMRC"], sorted(rows)

    all_tasks, all_bytes, all_rows = run(False)
    some_tasks, some_bytes, some_rows = run(True)
    row_groups = sum(pq.ParquetFile(f).metadata.num_row_groups for f in files)
    assert (all_tasks, some_tasks) == (len(files), 1)  # one file's run of 3 groups each; then 1 of 12 groups
    assert row_groups == 12
    assert some_rows == all_rows and len(all_rows) > 0
    assert some_bytes < all_bytes / 2


def test_skipping_never_drops_nan_or_null_rows(spark: Any, tmp_path: Path) -> None:
    nan = float("nan")
    table = pa.table(
        {
            "x": pa.array([1.0, nan, 10.0, 11.0, None, None], pa.float64()),
            "s": pa.array(["apple", "banana", "cherry", "date", None, None]),
        }
    )
    path = write_groups(tmp_path / "edges.parquet", table, rows_per_group=2)
    columns = [("x", "DOUBLE"), ("s", "STRING")]
    cases = {
        "x > 5": 3,  # NaN is above every number in Spark, and Parquet's max leaves it out
        "x IS NULL": 2,
        "s LIKE 'b%'": 1,
        "s >= 'cherry'": 2,
    }
    for where, n in cases.items():
        df = source.read(spark, [str(path)], columns, None, skip_row_groups=True)
        df.createOrReplaceTempView("edges")
        assert spark.sql(f"SELECT count(*) FROM edges WHERE {where}").collect()[0][0] == n, where


@pytest.mark.parametrize(
    ("filter_", "stats", "kind", "may_match"),
    [
        (GreaterThan(("x",), 5.0), _Stats(2, 0, 1.0, 1.0), "float", True),  # an unseen NaN
        (LessThan(("x",), 0.5), _Stats(2, 0, 1.0, 1.0), "float", False),
        (EqualTo(("x",), 5), _Stats(2, 0, 1, 3), "number", False),
        (EqualTo(("x",), 5), _Stats(2, 2, None, None), "number", False),  # all NULL
        (IsNull(("x",)), _Stats(2, 0, 1, 3), "number", False),
        (IsNull(("x",)), _Stats(2, None, 1, 3), "number", True),  # null count unknown
        (IsNotNull(("x",)), _Stats(2, 2, None, None), "number", False),
        (In(("x",), (None, 9)), _Stats(2, 0, 1, 3), "number", False),
        (EqualTo(("x",), "5"), _Stats(2, 0, 1, 3), "number", True),  # incomparable: keep
        (GreaterThan(("x",), 5), _Stats(2, 0, None, None), "number", True),  # no min/max
        (GreaterThan(("x",), 5), _Stats(2, 0, 1, 9), None, True),  # types that do not agree
        (StringStartsWith(("s",), "BR"), _Stats(2, 0, "A", "B"), "string", False),
        (StringStartsWith(("s",), "BR"), _Stats(2, 0, "BS", "Z"), "string", False),
        (StringStartsWith(("s",), "BR"), _Stats(2, 0, "BR", "BR~"), "string", True),
        (StringStartsWith(("s",), "BR"), _Stats(2, 0, "A", "Z"), "string", True),
    ],
)
def test_statistics_rule_out_only_what_cannot_match(filter_: Any, stats: _Stats, kind: str, may_match: bool) -> None:
    assert _may_match(filter_, stats, kind) is may_match


def test_skipping_is_off_by_default_because_spark_shares_one_plan_between_scans(spark: Any, data_dir: Path) -> None:
    files = [str(f) for f in local_files(data_dir, "hmrc/paye_employments")]
    two_scans = "SELECT (SELECT count(*) FROM paye_twice WHERE tax_month = 2), (SELECT count(*) FROM paye_twice WHERE tax_month = 5)"
    expected = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE tax_month = 2), count(*) FILTER (WHERE tax_month = 5) FROM read_parquet({files})"
    ).fetchone()
    source.read(spark, files, [("tax_month", "SMALLINT")], None).createOrReplaceTempView("paye_twice")
    assert tuple(spark.sql(two_scans).collect()[0]) == expected


@pytest.mark.xfail(
    strict=True,
    reason="Spark 4.3 keeps one planned read per Python data source relation (PythonDataSourceV2.readInfo) and "
    "reuses it for every scan of it; when this passes, skipping could be on by default.",
)
def test_spark_plans_each_scan_of_a_dataframe_on_its_own(spark: Any, data_dir: Path) -> None:
    files = [str(f) for f in local_files(data_dir, "hmrc/paye_employments")]
    df = source.read(spark, files, [("tax_month", "SMALLINT")], None, skip_row_groups=True)
    df.createOrReplaceTempView("paye_shared")
    got = spark.sql(
        "SELECT (SELECT count(*) FROM paye_shared WHERE tax_month = 2), (SELECT count(*) FROM paye_shared)"
    ).collect()[0]
    expected = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE tax_month = 2), count(*) FROM read_parquet({files})"
    ).fetchone()
    assert tuple(got) == expected


# ---------------------------------------------------------------------------------------------
# Failures name the department's host and what happened, never a credential


def test_a_missing_file_names_the_server_and_the_404(
    spark: Any, departments: DepartmentServers, data_dir: Path
) -> None:
    urls = dwp_urls(departments, data_dir)
    missing = urls[0].replace("part-0000", "part-0099")
    with pytest.raises(Exception) as raised:
        source.read(spark, [*urls, missing], [("sex", "STRING")], None).collect()
    found = failure(raised.value)
    host = departments.endpoints.dwp_url.removeprefix("http://")
    assert found.message == (
        f"Could not read {missing} (department server {host}): no such file (HTTP 404). "
        "Check the dataset's registered location."
    )
    assert found.context == {"host": f"department server {host}", "file": missing}


def test_a_server_that_is_down(spark: Any, tmp_path: Path) -> None:
    with socket.socket() as reserved:  # bound, never listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{reserved.getsockname()[1]}/x/part-0000.parquet"
        with pytest.raises(Exception) as raised:
            source.read(spark, [url], [("x", "STRING")], None, timeout_s=1, retries=1).collect()
    assert "the server could not be reached: ConnectError (tried 2 times)" in failure(raised.value).message


def test_a_server_that_stops_answering_times_out(spark: Any, departments: DepartmentServers, data_dir: Path) -> None:
    url = dwp_urls(departments, data_dir)[0]
    with FaultProxy(departments.endpoints.dwp_url, mode="hang") as proxy:
        hung = url.replace(departments.endpoints.dwp_url, proxy.url)
        with pytest.raises(Exception) as raised:
            source.read(spark, [hung], [("sex", "STRING")], None, timeout_s=0.5, retries=1).collect()
    message = failure(raised.value).message
    assert proxy.url.removeprefix("http://") in message
    assert message.endswith("the server did not answer within 0.5 s (tried 2 times).")


def test_a_file_without_a_registered_column(spark: Any, departments: DepartmentServers, data_dir: Path) -> None:
    with pytest.raises(Exception) as raised:
        source.read(spark, dwp_urls(departments, data_dir), [("sexx", "STRING")], None).collect()
    assert "the file has no column 'sexx'. Did you mean 'sex'?" in failure(raised.value).message


def test_a_column_whose_type_changed(spark: Any, tmp_path: Path) -> None:
    path = write_groups(tmp_path / "f.parquet", pa.table({"sex": ["F", "M"]}), 2)
    with pytest.raises(Exception) as raised:
        source.read(spark, [str(path)], [("sex", "DATE")], None).collect()
    message = failure(raised.value).message
    assert "column 'sex' is string in the file, which cannot be read as Spark's date" in message
    assert "'F'" not in message  # values never reach a message


def test_a_missing_s3_object_and_no_credential_in_messages_or_plans(
    spark: Any, departments: DepartmentServers, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = hmrc_secret(departments)
    urls = hmrc_urls(departments, data_dir)
    missing = urls[0].replace("part-0000", "part-0099")
    df = source.read(spark, [urls[0], missing], [("tax_month", "SMALLINT")], secret)
    for mode in ("simple", "extended", "formatted", "cost", "codegen"):
        df.explain(mode)
    with pytest.raises(Exception) as raised:
        df.collect()
    message = failure(raised.value).message
    e = departments.endpoints
    assert message == f"Could not read {missing} (S3 store {e.hmrc_s3_endpoint}, bucket {e.hmrc_bucket}): " + (
        "no such file. Check the dataset's registered location."
    )
    shown = capsys.readouterr().out + str(raised.value)
    assert e.hmrc_secret not in shown and e.hmrc_key_id not in shown


def test_a_bearer_token_goes_to_its_own_server_only(spark: Any, tmp_path: Path) -> None:
    write_groups(tmp_path / "part-0000.parquet", pa.table({"n": list(range(10))}), 4)
    with serving(tmp_path, token="s3cr3t-token") as server:
        url = f"{server.url}/part-0000.parquet"
        good = Secret("dept", "http", server.url, (("bearer_token", "s3cr3t-token"),))
        assert [r.n for r in source.read(spark, [url], [("n", "BIGINT")], good).collect()] == list(range(10))
        assert server.authorizations and set(server.authorizations) == {"Bearer s3cr3t-token"}

        wrong = Secret("dept", "http", server.url, (("bearer_token", "not-the-token"),))
        with pytest.raises(Exception) as raised:
            source.read(spark, [url], [("n", "BIGINT")], wrong).collect()
        message = failure(raised.value).message
        assert "access refused (HTTP 401)" in message and "not-the-token" not in str(raised.value)

    elsewhere = Secret("dept", "http", server.url + "0", (("bearer_token", "s3cr3t-token"),))
    with pytest.raises(ConfigurationError, match="only sent to its own files"):
        source.read(spark, [url], [("n", "BIGINT")], elsewhere)


def test_a_file_replaced_after_planning_is_refused(spark: Any, tmp_path: Path) -> None:
    path = write_groups(tmp_path / "part-0000.parquet", pa.table({"n": list(range(10))}), 5)
    with serving(tmp_path) as server:
        df = source.read(spark, [f"{server.url}/part-0000.parquet"], [("n", "BIGINT")], None)
        assert df.count() == 10  # planned: Spark keeps this plan (footer, size, ETag) for the DataFrame
        write_groups(path, pa.table({"n": list(range(20))}), 5)
        with pytest.raises(Exception) as raised:
            df.count()
    assert "the file changed on the server since the query was planned" in failure(raised.value).message


@pytest.mark.parametrize(
    ("files", "columns", "says"),
    [
        (["/a.parquet", "/a.parquet"], [("x", "INT")], "listed twice"),
        (["/a.parquet"], [("x", "INT"), ("X", "INT")], "listed twice"),
        (["/a.parquet"], [("x", "INT, y INT")], "not a Spark type"),
        (["ftp://host/a.parquet"], [("x", "INT")], "local, HTTP(S) and S3"),
        (["/data/*.parquet"], [("x", "INT")], "is a pattern"),
    ],
)
def test_read_refuses_what_it_cannot_read(
    spark: Any, files: list[str], columns: list[tuple[str, str]], says: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        source.read(spark, files, columns, None)


def test_register_is_idempotent_under_the_sessions_name(spark: Any) -> None:
    source.register(spark)
    source.register(spark)
    assert spark.conf.get(source.PUSHDOWN_CONF) == "true"
    assert source.TrustParquet.name() == source.SOURCE_NAME == spark_session.SOURCE_NAME
