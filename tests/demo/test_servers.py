from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from trust.demo.generate import DemoData, ensure_generated
from trust.demo.servers import DepartmentServers, Endpoints

SCALE, SEED = 0.05, 4242
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    return ensure_generated(tmp_path_factory.mktemp("demo"), scale=SCALE, seed=SEED)


@pytest.fixture(scope="module")
def servers(data: DemoData) -> Iterator[DepartmentServers]:
    with DepartmentServers(data.out_dir) as running:
        yield running


@pytest.fixture
def counted(servers: DepartmentServers) -> DepartmentServers:
    servers.reset_counters()
    return servers


def s3_client(e: Endpoints, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"http://{e.hmrc_s3_endpoint}",
        aws_access_key_id=e.hmrc_key_id,
        aws_secret_access_key=e.hmrc_secret,
        region_name=e.hmrc_region,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def static_files(data: DemoData, e: Endpoints) -> list[tuple[str, Path]]:
    base = {"dwp": e.dwp_url, "dfe": e.dfe_url, "desnz": e.desnz_url}
    return [
        (f"{base[p.relative_to(data.out_dir).parts[0]]}/{'/'.join(p.relative_to(data.out_dir).parts[1:])}", p)
        for d in data.datasets.values()
        for p in d.paths
        if not d.dataset_id.startswith("hmrc.")
    ]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_endpoints_shape(servers: DepartmentServers) -> None:
    e = servers.endpoints
    for url in (e.dwp_url, e.dfe_url, e.desnz_url):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", e.hmrc_s3_endpoint)
    ports = {url.rsplit(":", 1)[1] for url in (e.dwp_url, e.dfe_url, e.desnz_url, e.hmrc_s3_endpoint)}
    assert len(ports) == 4
    assert e.hmrc_bucket.startswith("hmrc-earnings")  # a per-instance suffix when several run in one process
    assert (e.hmrc_key_id, e.hmrc_secret, e.hmrc_region) == (
        "hmrc-trust-demo",
        "hmrc-trust-demo-secret",
        "eu-west-2",
    )
    assert e.as_variables() == {
        "DWP_DATA_URL": e.dwp_url,
        "DFE_DATA_URL": e.dfe_url,
        "DESNZ_DATA_URL": e.desnz_url,
        "HMRC_S3_ENDPOINT": e.hmrc_s3_endpoint,
        "HMRC_S3_BUCKET": e.hmrc_bucket,
    }


def test_head_gives_length_and_etag(data: DemoData, servers: DepartmentServers) -> None:
    files = static_files(data, servers.endpoints)
    assert len(files) == 5
    for url, path in files:
        r = httpx.head(url)
        assert r.status_code == 200, url
        assert int(r.headers["content-length"]) == path.stat().st_size
        assert re.fullmatch(r'"[0-9a-f]{32}"', r.headers["etag"])
        assert r.headers["accept-ranges"] == "bytes" and r.content == b""
    assert httpx.head(servers.endpoints.dwp_url + "/uc_claims/part-9999.parquet").status_code == 404


def test_range_requests_return_exactly_the_bytes(data: DemoData, servers: DepartmentServers) -> None:
    for url, path in static_files(data, servers.endpoints):
        content, size = path.read_bytes(), path.stat().st_size
        r = httpx.get(url, headers={"Range": "bytes=100-1099"})
        assert r.status_code == 206
        assert r.content == content[100:1100]
        assert r.headers["content-range"] == f"bytes 100-1099/{size}"
        tail = httpx.get(url, headers={"Range": "bytes=-8"})  # how readers find the footer
        assert tail.status_code == 206 and tail.content == content[-8:] and tail.content.endswith(b"PAR1")


def test_s3_serves_paye_with_ranges(data: DemoData, servers: DepartmentServers) -> None:
    s3 = s3_client(servers.endpoints)
    listed = s3.list_objects_v2(Bucket=servers.endpoints.hmrc_bucket, Prefix="paye_employments/")["Contents"]
    assert [o["Key"] for o in listed] == [f"paye_employments/part-000{i}.parquet" for i in range(4)]
    for path in data["hmrc.paye_employments"].paths:
        key = f"paye_employments/{path.name}"
        head = s3.head_object(Bucket=servers.endpoints.hmrc_bucket, Key=key)
        assert head["ContentLength"] == path.stat().st_size and head["ETag"]
        got = s3.get_object(Bucket=servers.endpoints.hmrc_bucket, Key=key, Range="bytes=0-99")
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == path.read_bytes()[:100]


def test_counters_count_exact_body_bytes(data: DemoData, counted: DepartmentServers) -> None:
    e = counted.endpoints
    assert counted.bytes_served() == {"DWP": 0, "HMRC": 0, "DfE": 0, "DESNZ": 0}
    assert counted.requests_served() == {"DWP": 0, "HMRC": 0, "DfE": 0, "DESNZ": 0}
    assert (
        len(httpx.get(e.dwp_url + "/uc_claims/part-0001.parquet", headers={"Range": "bytes=10-1009"}).content) == 1000
    )
    httpx.head(e.dwp_url + "/uc_claims/part-0001.parquet")
    learners = data["dfe.learners"].paths[0]
    assert httpx.get(e.dfe_url + "/learners/part-0000.parquet").content == learners.read_bytes()
    s3_client(e).get_object(Bucket=e.hmrc_bucket, Key="paye_employments/part-0002.parquet", Range="bytes=0-99")[
        "Body"
    ].read()
    assert counted.bytes_served() == {"DWP": 1000, "HMRC": 100, "DfE": learners.stat().st_size, "DESNZ": 0}
    assert counted.requests_served() == {"DWP": 2, "HMRC": 1, "DfE": 1, "DESNZ": 0}
    counted.reset_counters()
    assert counted.bytes_served() == {"DWP": 0, "HMRC": 0, "DfE": 0, "DESNZ": 0}
    assert counted.requests_served() == {"DWP": 0, "HMRC": 0, "DfE": 0, "DESNZ": 0}


def test_counters_are_exact_under_concurrency(counted: DepartmentServers) -> None:
    e = counted.endpoints

    def fetch() -> None:
        with httpx.Client() as client:
            s3 = s3_client(e)
            for i in range(10):
                r = client.get(e.desnz_url + "/businesses/part-0000.parquet", headers={"Range": f"bytes={i}-{i + 499}"})
                assert len(r.content) == 500
                body = s3.get_object(
                    Bucket=e.hmrc_bucket, Key="paye_employments/part-0000.parquet", Range=f"bytes={i}-{i + 49}"
                )["Body"].read()
                assert len(body) == 50

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counted.bytes_served() == {"DWP": 0, "HMRC": 8 * 10 * 50, "DfE": 0, "DESNZ": 8 * 10 * 500}
    assert counted.requests_served() == {"DWP": 0, "HMRC": 80, "DfE": 0, "DESNZ": 80}


def test_stop_releases_ports_and_threads(data: DemoData) -> None:
    before = set(threading.enumerate())
    servers = DepartmentServers(data.out_dir)
    e = servers.start()
    ports = {"DWP": e.dwp_url, "DfE": e.dfe_url, "DESNZ": e.desnz_url, "HMRC": e.hmrc_s3_endpoint}
    ports_int = {d: int(v.rsplit(":", 1)[1]) for d, v in ports.items()}
    with httpx.Client() as client:  # a kept-alive connection must not keep a server alive
        assert client.head(e.dwp_url + "/uc_claims/part-0000.parquet").status_code == 200
        s3 = s3_client(e, retries={"max_attempts": 1})
        s3.head_object(Bucket=e.hmrc_bucket, Key="paye_employments/part-0000.parquet")
        servers.stop()
        assert all(refused(p) for p in ports_int.values())
        with pytest.raises(httpx.TransportError):
            client.head(e.dwp_url + "/uc_claims/part-0000.parquet")
        with pytest.raises(BotoCoreError):
            s3.head_object(Bucket=e.hmrc_bucket, Key="paye_employments/part-0000.parquet")
    with pytest.raises(RuntimeError):
        _ = servers.endpoints
    leftovers = [t for t in set(threading.enumerate()) - before if t.name.startswith("demo-")]
    assert leftovers == []
    # The same fixed ports can be bound again at once.
    with DepartmentServers(data.out_dir, ports=ports_int) as again:
        assert again.endpoints.dwp_url == e.dwp_url
        assert again.endpoints.hmrc_s3_endpoint == e.hmrc_s3_endpoint
        assert httpx.head(e.dfe_url + "/learners/part-0000.parquet").status_code == 200


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ensure_generated"):
        DepartmentServers(tmp_path).start()
    with pytest.raises(ValueError, match="unknown department"):
        DepartmentServers(tmp_path, ports={"ONS": 1})


def test_serve_forever_prints_ready_and_stops_on_sigterm(data: DemoData) -> None:
    code = (
        "import sys; from pathlib import Path; from trust.demo.servers import serve_forever; "
        f"serve_forever(Path(sys.argv[1]), scale={SCALE}, seed={SEED})"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(data.out_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        m = re.fullmatch(
            r"ready DWP=(http://127\.0\.0\.1:(\d+)) DfE=(http://\S+) DESNZ=(http://\S+) "
            r"HMRC=s3://hmrc-earnings@127\.0\.0\.1:(\d+)\n",
            line,
        )
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
        assert httpx.head(m.group(1) + "/uc_claims/part-0000.parquet").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert refused(int(m.group(2))) and refused(int(m.group(5)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
