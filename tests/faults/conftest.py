"""Departments that misbehave, for real: each test gets its own copy of the departments' files
behind its own servers (so it may rewrite them), DWP behind a ``FaultProxy``, and a trust home
pointing at them with short department time limits."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.faults.proxy import FaultProxy
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import HMRC_KEY_ID, HMRC_PREFIX, HMRC_REGION, HMRC_SECRET, DepartmentServers
from trust.service import Trust

DEMO = "demo-employment-support"
DWP_QUERY = "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region"
DFE_QUERY = "SELECT count(*) AS n FROM dfe.learners"
HMRC_QUERY = "SELECT tax_month, count(*) AS n FROM hmrc.paye_employments GROUP BY tax_month"
FAST = {"department_timeout_s": 2.0, "department_retries": 0, "catalog_retry_s": 1.0}


@dataclass
class Source:
    """The departments of one test: their files (rewritable), servers, DWP's proxy and the trust home."""

    data: Path
    servers: DepartmentServers
    proxy: FaultProxy
    home: Path

    def configure(self, **settings: Any) -> Trust:
        endpoints = dataclasses.replace(self.servers.endpoints, dwp_url=self.proxy.url)
        configure_home(self.home, endpoints, **{**FAST, **settings})
        t = Trust.open(self.home)
        if not t.access.users():
            seed_users(t)
        return t

    def uc_file(self) -> Path:
        return sorted((self.data / "dwp" / "uc_claims").glob("*.parquet"))[0]

    def rewrite(self, path: Path, change: Any) -> None:
        """Replace ``path`` with ``change(table)``, as the department would (a new file in its place)."""
        table = change(pq.read_table(path))
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)

    def s3(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.servers.endpoints.hmrc_s3_endpoint}",
            aws_access_key_id=HMRC_KEY_ID,
            aws_secret_access_key=HMRC_SECRET,
            region_name=HMRC_REGION,
            config=Config(s3={"addressing_style": "path"}),
        )

    def s3_keys(self) -> list[str]:
        listed = self.s3().list_objects_v2(Bucket=self.servers.endpoints.hmrc_bucket, Prefix=HMRC_PREFIX)
        return sorted(o["Key"] for o in listed.get("Contents", ()))

    def put_s3(self, key: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        self.s3().put_object(Bucket=self.servers.endpoints.hmrc_bucket, Key=key, Body=sink.getvalue().to_pybytes())

    def get_s3(self, key: str) -> pa.Table:
        body = self.s3().get_object(Bucket=self.servers.endpoints.hmrc_bucket, Key=key)["Body"].read()
        return pq.read_table(pa.BufferReader(body))


@pytest.fixture
def source(data_dir: Path, tmp_path: Path) -> Iterator[Source]:
    data = tmp_path / "departments"
    shutil.copytree(data_dir, data)
    with DepartmentServers(data) as servers, FaultProxy(servers.endpoints.dwp_url) as proxy:
        yield Source(data, servers, proxy, tmp_path / "home")
