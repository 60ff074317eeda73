"""Sandboxes opened ahead of time: each used once, as locked down as one opened on demand."""

from __future__ import annotations

import time

import duckdb
import pytest

from trust.engine.pool import SandboxPool
from trust.engine.sandbox import Access, Limits


def _wait_ready(pool: SandboxPool, n: int) -> None:
    deadline = time.monotonic() + 30
    while pool.ready() < n:
        assert time.monotonic() < deadline, f"{pool.ready()} sandboxes ready, expected {n}"
        time.sleep(0.02)


def test_a_taken_sandbox_is_never_handed_out_again(tmp_path):
    pool = SandboxPool(ready_per_access=2)
    access, limits = Access(directories=(str(tmp_path) + "/",)), Limits()
    first = pool.take(access, limits)
    _wait_ready(pool, 2)
    taken = [pool.take(access, limits) for _ in range(2)]
    assert len({id(c) for c in [first, *taken]}) == 3
    for con in [first, *taken]:
        con.close()
    pool.close()
    assert pool.ready() == 0


def test_a_ready_sandbox_is_locked_down_like_one_opened_now(tmp_path):
    pool = SandboxPool(ready_per_access=1)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    duckdb.connect().execute(f"COPY (SELECT 1 AS x) TO '{allowed / 'a.parquet'}'")
    duckdb.connect().execute(f"COPY (SELECT 2 AS x) TO '{tmp_path / 'b.parquet'}'")
    access = Access(paths=(str(allowed / "a.parquet"),))
    pool.take(access, Limits()).close()
    _wait_ready(pool, 1)
    con = pool.take(access, Limits())
    assert con.execute(f"SELECT x FROM '{allowed / 'a.parquet'}'").fetchall() == [(1,)]
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT x FROM '{tmp_path / 'b.parquet'}'").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")
    con.close()
    pool.close()


def test_another_access_gets_its_own_sandboxes(tmp_path):
    pool = SandboxPool(ready_per_access=1)
    a, b = Access(paths=(str(tmp_path / "a.parquet"),)), Access(paths=(str(tmp_path / "b.parquet"),))
    pool.take(a, Limits()).close()
    _wait_ready(pool, 1)
    con = pool.take(b, Limits())  # not a's ready sandbox: b may read other files
    assert pool.ready() >= 1
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM '{tmp_path / 'a.parquet'}'").fetchall()
    con.close()
    pool.close()


def test_the_pool_keeps_no_more_than_its_limit(tmp_path):
    pool = SandboxPool(ready_per_access=2, max_ready=3)
    for i in range(5):
        pool.take(Access(paths=(str(tmp_path / f"{i}.parquet"),)), Limits()).close()
    time.sleep(1.0)
    _wait_ready(pool, 1)
    assert pool.ready() <= 3
    pool.close()


def test_a_query_over_its_memory_limit_spills_to_a_private_folder_removed_after(tmp_path):
    from trust.engine.sandbox import open_sandbox

    spill = tmp_path / "spill"
    limits = Limits(memory_limit="64MB", spill_dir=str(spill), spill_limit="4GB")
    con = open_sandbox(Access(), limits)
    big = "SELECT count(*) FROM (SELECT i % 3000000 AS g, 'P' || (i % 3000000) AS p, sum(i) FROM range(9000000) t(i) GROUP BY ALL)"
    assert con.execute(big).fetchall() == [(3_000_000,)]
    (folder,) = list(spill.iterdir())
    assert folder.parent == spill and spill.stat().st_mode & 0o077 == 0  # nobody else may enter
    con.close()
    assert list(spill.iterdir()) == []
    without = open_sandbox(Access(), Limits(memory_limit="64MB"))
    with pytest.raises(duckdb.Error, match="(?i)memory"):
        without.execute(big).fetchall()
    without.close()


def test_what_a_killed_process_spilled_is_swept(tmp_path):
    import subprocess
    import sys

    from trust.engine.sandbox import sweep_spill

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{done.stdout.strip()}-abc"
    dead.mkdir()
    (dead / "duckdb_temp_block.tmp").write_bytes(b"x" * 10)
    live = tmp_path / "1-def"  # pid 1 runs
    live.mkdir()
    assert sweep_spill(str(tmp_path)) == 1
    assert not dead.exists() and live.exists()
