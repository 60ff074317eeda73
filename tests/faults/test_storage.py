"""A trust whose own disk fills: every write that cannot be stored is refused whole, with a clear
error, and nothing half-written is kept; the state and the audit chain still agree (issue 13).

TRUST_HOME is a tmpfs of a few megabytes, mounted for the test (CI runs as root).
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import DEMO, DFE_QUERY, DWP_QUERY
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.server.launch import issue_token, launch_trust
from trust.service import Trust

JUSTIFICATION = "Regional counts of claimants, for the evaluation report."


@pytest.fixture
def tiny_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "tiny"
    home.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(home)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.fail(f"could not mount a tmpfs for TRUST_HOME (these tests run as root, as CI does): {mounted.stderr}")
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)


def fill(home: Path) -> Path:
    """Fill the filesystem under ``home`` to the last byte (after emptying SQLite's write-ahead log)."""
    with sqlite3.connect(home / "state.db") as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = home / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def counts(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / "state.db") as con:
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("outputs", "audit_events", "cell_populations", "release_requests", "idempotency_keys")
        }


def test_a_full_disk_refuses_whole_and_a_retry_after_space_is_freed_is_recorded_once(
    tiny_home: Path, departments: DepartmentServers
):
    configure_home(tiny_home, departments.endpoints)
    t = Trust.open(tiny_home)
    seed_users(t)
    first = t.session("ana", DEMO).sql(DWP_QUERY)  # the secret, the versions, one output
    token = issue_token(tiny_home, "ana")
    auth = {"Authorization": f"Bearer {token}"}
    with launch_trust(tiny_home, workers=2) as server:
        assert httpx.post(f"{server.url}/v1/queries", params={"wait": 30}, headers=auth,
                          json={"sql": DFE_QUERY, "project": DEMO}, timeout=60).status_code == 200  # fmt: skip
        before = counts(tiny_home)
        filler = fill(tiny_home)

        key = uuid.uuid4().hex
        query = httpx.post(
            f"{server.url}/v1/queries",
            params={"wait": 30},
            headers={**auth, "Idempotency-Key": key},
            json={"sql": DWP_QUERY + " ORDER BY region", "project": DEMO},
            timeout=60,
        )
        assert query.status_code == 507, query.text
        body = query.json()
        assert body["error"] == "storage_failed" and "nothing of it was kept" in body["message"]
        release_key = uuid.uuid4().hex
        release = httpx.post(
            f"{server.url}/v1/releases",
            headers={**auth, "Idempotency-Key": release_key},
            json={"outputs": [first.id], "justification": JUSTIFICATION},
            timeout=60,
        )
        assert release.status_code == 507, release.text
        assert counts(tiny_home) == before  # nothing half-written: no output, event, population or request

        filler.unlink()  # space again: the retries are recorded, once
        again = httpx.post(
            f"{server.url}/v1/releases",
            headers={**auth, "Idempotency-Key": release_key},
            json={"outputs": [first.id], "justification": JUSTIFICATION},
            timeout=60,
        )
        twice = httpx.post(
            f"{server.url}/v1/releases",
            headers={**auth, "Idempotency-Key": release_key},
            json={"outputs": [first.id], "justification": JUSTIFICATION},
            timeout=60,
        )
        assert again.status_code == twice.status_code == 201 and again.json()["id"] == twice.json()["id"]
        retried = [
            httpx.post(
                f"{server.url}/v1/queries",
                params={"wait": 30},
                headers={**auth, "Idempotency-Key": key},
                json={"sql": DWP_QUERY + " ORDER BY region", "project": DEMO},
                timeout=60,
            )
            for _ in range(2)
        ]
        assert [r.status_code for r in retried] == [200, 200]
        assert retried[0].headers["X-Trust-Output"] == retried[1].headers["X-Trust-Output"]

    after = counts(tiny_home)
    assert after["outputs"] == before["outputs"] + 1 and after["release_requests"] == before["release_requests"] + 1
    ok, summary = Trust.open(tiny_home).audit.verify()
    assert ok, summary
