"""The engine sandbox reads only what it is given, whatever SQL reaches it (defence in depth)."""

from __future__ import annotations

import duckdb
import pytest

from trust.engine.execute import execute
from trust.engine.sandbox import Access, Limits, open_sandbox
from trust.errors import QueryTimeout


@pytest.fixture
def parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), path)
    return str(path)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "COPY (SELECT 1) TO '/tmp/trust-escape.csv'",
        "ATTACH '/tmp/trust-escape.db'",
        "INSTALL spatial",
        "LOAD spatial",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/etc/passwd']",
        "SELECT * FROM read_parquet('http://127.0.0.1:9/elsewhere.parquet')",
    ],
)
def test_sandbox_refuses_everything_outside_access(parquet, sql):
    con = open_sandbox(Access(paths=(parquet,)), Limits())
    with pytest.raises(duckdb.Error):
        con.execute(sql)
    assert con.execute(f"SELECT sum(a) FROM read_parquet('{parquet}')").fetchone() == (499500,)


def test_secrets_are_redacted(parquet):
    from trust.engine.sandbox import Secret

    secret = Secret("hmrc", "s3", "s3://bucket", (("key_id", "k"), ("secret", "very-secret-value")))
    con = open_sandbox(Access(paths=(parquet,), secrets=(secret,)), Limits())
    text = str(con.execute("SELECT * FROM duckdb_secrets()").fetchall())
    assert "very-secret-value" not in text


def test_long_query_is_interrupted(parquet):
    slow = f"SELECT count(*) FROM read_parquet('{parquet}') a, read_parquet('{parquet}') b, read_parquet('{parquet}') c, read_parquet('{parquet}') d"
    with pytest.raises(QueryTimeout, match="0.5 s limit"):
        execute(slow, Access(paths=(parquet,)), Limits(timeout_s=0.5))
