"""A running query says where it is: its stages in order and how long it has taken (issue 16), never
the bytes it has read (they depend on the data: tests/server/test_progress_channel.py). DWP's data
comes through a ``FaultProxy`` that trickles it, so the query is slow enough to be seen at each stage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trust
from tests.faults.conftest import DEMO, Source
from tests.faults.proxy import FaultProxy
from trust.demo.servers import DepartmentServers
from trust.server.launch import serve_in_thread
from trust.service import Trust
from trust.service.progress import QueryProgress, Stage

SLOW_RATE = 20_000  # bytes a second from DWP: the query below takes several seconds
LONG = "SELECT region, count(*) AS n, sum(award_amount) AS amount FROM dwp.uc_claims GROUP BY region"
ORDER = [s.value for s in Stage]


@pytest.fixture
def source(departments: DepartmentServers, data_dir: Path, tmp_path: Path) -> Iterator[tuple[Trust, FaultProxy]]:
    with FaultProxy(departments.endpoints.dwp_url, rate=SLOW_RATE) as proxy:
        t = Source(data_dir, departments, proxy, tmp_path / "home").configure(department_timeout_s=30.0)
        t.catalog.bound()  # registered while DWP answers quickly; its queries are slowed
        yield t, proxy


@pytest.fixture
def slow_url(source: tuple[Trust, FaultProxy]) -> Iterator[str]:
    t, proxy = source
    with serve_in_thread(t) as url:
        proxy.set("slow")
        yield url


def _client(t: Trust, url: str, **kwargs: Any) -> trust.Client:
    return trust.Client(url, token=t.access.issue_token("ana").secret, project=DEMO, **kwargs)


def test_the_client_sees_the_stages_in_order_and_the_time(source: tuple[Trust, FaultProxy], slow_url: str):
    seen: list[dict[str, Any]] = []
    with _client(source[0], slow_url, progress=seen.append) as client:
        out = client.sql(LONG)
    assert out.table.num_rows > 0
    stages = [s["stage"] for s in seen]
    assert stages == sorted(stages, key=ORDER.index), stages  # never backwards
    for earlier, later in zip(seen, seen[1:]):  # each poll's history extends the one before
        assert later["stages"][: len(earlier["stages"])] == earlier["stages"]
    assert seen[-1]["stages"][:4] == ["queued", "policy", "waiting", "reading"]
    assert stages.count("reading") >= 2, stages  # polled more than once while it reads
    elapsed = [s["elapsed_s"] for s in seen]
    assert elapsed == sorted(elapsed) and elapsed[-1] > elapsed[0], elapsed  # the clock moves
    assert all(not any("byte" in k for k in s) for s in seen), seen[-1]  # never what the engine read
    assert all(s["query"] == seen[0]["query"] and s["state"] == "running" for s in seen[1:])


def test_the_terminal_shows_one_line_that_goes_when_the_query_ends(
    source: tuple[Trust, FaultProxy], slow_url: str, capsys: pytest.CaptureFixture[str]
):
    with _client(source[0], slow_url, progress=True) as client:
        client.sql(LONG)
    err = capsys.readouterr().err
    updates = [u for u in err.split("\r") if u.strip()]
    assert updates and all("\n" not in u for u in updates), err[-500:]  # one line, rewritten in place
    assert re.search(r"query q-[0-9a-f]{16} reading, [0-9]+\.[0-9] s\r", err), err[-500:]  # its stage and time
    assert not re.search(r"[0-9.]+ [kMG]?B\b", err), err[-500:]  # no byte count, live or at the end
    assert err.endswith("\r") and not err.rsplit("\r", 2)[-2].strip()  # blanked at the end


def test_every_stage_in_order_and_the_operator_has_the_bytes_the_department_served(
    source: tuple[Trust, FaultProxy], departments: DepartmentServers
):
    t, proxy = source
    proxy.set("slow")
    progress = QueryProgress()
    seen: list[dict[str, Any]] = []
    served = departments.bytes_served()["DWP"]
    out = t.queries.run("ana", DEMO, LONG, progress=progress, on_progress=seen.append)
    served = departments.bytes_served()["DWP"] - served
    final = progress.snapshot()
    assert final["stages"] == ["queued", "policy", "waiting", "reading", "disclosure", "recording", "done"]
    assert [s["stage"] for s in seen].count("reading") >= 2  # seen while it read
    # The operator's count (the output's stats; the store keeps it in the output's audit event) is
    # exactly the body bytes DWP's own server sent; the analyst's copy and the progress have none.
    (event,) = [
        e for e in Trust.open(t.config.home).audit.events(kind="output_created") if e.payload["output"] == out.id
    ]
    assert out.stats["bytes_read"] == event.payload["bytes_read"] == served > 0
    assert "bytes_read" not in out.for_analyst().stats
    assert all("bytes_read" not in s for s in [*seen, final])


def test_a_query_cancelled_before_it_reads_reads_nothing_and_says_so(source: tuple[Trust, FaultProxy]):
    t, _ = source
    progress = QueryProgress()
    assert progress.cancel(via="api")
    with pytest.raises(trust.QueryCancelled, match=rf"^Query {progress.id} cancelled; nothing was released\.$"):
        t.queries.run("ana", DEMO, LONG, progress=progress)
    assert progress.snapshot()["stages"] == ["queued", "cancelled"]
    (event,) = t.audit.events(kind="query_cancelled")
    assert event.payload["query"] == progress.id and event.payload["stage"] == "queued"
    assert not progress.cancel(via="api")  # it has ended: nothing left to cancel
    assert t.queries.outputs("ana") == []
