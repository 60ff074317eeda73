"""No byte count reaches an analyst: not in a query's progress, not in its answer, not when it is cancelled.

DuckDB skips the Parquet row groups whose min/max statistics rule out a query's ``WHERE``, so the bytes a
query reads depend on the data: shown to an analyst, repeating ``WHERE award_amount > X`` with different
thresholds would binary-search a row group's maximum, one person's value. Here DWP's data comes through a
``FaultProxy`` that trickles it, so a query is watched at every stage: each answer of a real ``trust serve``
(the 202 polls, the output, a cancel and the poll after it) and each state the embedded session hands
``on_progress`` must name no bytes and carry no value equal to the count the operator recorded. The
operator still has it: in the output's audit event and on the query's line in ``server.log``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import DEMO, Source
from tests.faults.proxy import FaultProxy
from trust.demo.servers import DepartmentServers
from trust.server.launch import Running, launch_trust
from trust.service import Trust

SLOW_RATE = 20_000  # bytes a second from DWP: a query reads for several seconds
LONG = "SELECT region, count(*) AS n, sum(award_amount) AS amount FROM dwp.uc_claims GROUP BY region"
ABOVE = "SELECT region, count(*) AS n FROM dwp.uc_claims WHERE award_amount > {} GROUP BY region"
ANALYST_STATS = {"elapsed_s", "rows", "datasets", "rows_scanned"}


@dataclass
class Watched:
    home: Path
    server: Running
    proxy: FaultProxy
    departments: DepartmentServers

    def token(self, user: str = "ana") -> str:
        return Trust.open(self.home).access.issue_token(user, label="tests").secret

    def dwp_bytes(self) -> int:
        return self.departments.bytes_served()["DWP"]

    def recorded(self, kind: str, key: str, value: str) -> int | None:
        """The operator's count: ``bytes_read`` of the audit event of ``kind`` whose ``key`` is ``value``."""
        (event,) = [e for e in Trust.open(self.home).audit.events(kind=kind) if e.payload.get(key) == value]
        return event.payload["bytes_read"]


@pytest.fixture(scope="module")
def watched(
    departments: DepartmentServers, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Watched]:
    home = tmp_path_factory.mktemp("channel-home")
    with FaultProxy(departments.endpoints.dwp_url, rate=SLOW_RATE) as proxy:
        Source(data_dir, departments, proxy, home).configure(department_timeout_s=30.0, query_timeout_s=120.0)
        with launch_trust(home, workers=2, name="channel") as server:
            yield Watched(home, server, proxy, departments)


@pytest.fixture
def slow(watched: Watched) -> Iterator[Watched]:
    watched.proxy.set("slow")
    try:
        yield watched
    finally:
        watched.proxy.set("pass")


def leaks(answer: Any, recorded: int | None, where: str = "") -> list[str]:
    """Where ``answer`` names bytes (a key like ``bytes_read``) or holds the operator's count as a value."""
    found: list[str] = []
    if isinstance(answer, Mapping):
        for key, value in answer.items():
            if "byte" in str(key).lower():
                found.append(f"{where}.{key}")
            found += leaks(value, recorded, f"{where}.{key}")
    elif isinstance(answer, (list, tuple)):
        for i, value in enumerate(answer):
            found += leaks(value, recorded, f"{where}[{i}]")
    elif recorded is not None and not isinstance(answer, bool) and answer in (recorded, str(recorded)):
        found.append(f"{where} = {answer!r}")
    return found


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _poll(url: str, token: str, query: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/queries/{query}", params={"wait": 0.5}, headers=_auth(token), timeout=30)


def test_the_servers_answers_carry_no_byte_count(slow: Watched):
    token, url = slow.token(), slow.server.url
    before = slow.dwp_bytes()
    first = httpx.post(
        f"{url}/v1/queries", params={"wait": 0}, headers=_auth(token), json={"sql": LONG, "project": DEMO}
    )
    assert first.status_code == 202, first.text
    query = first.json()["query"]
    polls = [first]
    while polls[-1].status_code == 202:
        polls.append(_poll(url, token, query))
    done = polls.pop()
    assert done.status_code == 200, done.text
    served = slow.dwp_bytes() - before

    output = done.json()["output"]
    recorded = slow.recorded("output_created", "output", output["id"])
    assert recorded is not None and 0 < recorded <= served  # the operator has the count: it is no secret to them
    log = (slow.home / "server.log").read_text()
    assert re.search(rf"query {query} user=ana project={DEMO} done [0-9.]+s bytes_read={recorded}\n", log), log[-800:]

    states = [p.json() for p in polls]
    assert [s["stage"] for s in states].count("reading") >= 2, [s["stage"] for s in states]  # watched while it read
    assert states[-1]["stages"][:4] == ["queued", "policy", "waiting", "reading"]
    for poll, state in zip(polls, states):
        assert leaks(state, recorded) == [] and str(recorded) not in poll.text, state
    assert leaks(output, recorded) == [], output  # the output's description (its table holds the figures)
    assert leaks(done.json(), None) == []
    assert set(output["stats"]) <= ANALYST_STATS


def test_a_cancelled_querys_answers_carry_no_byte_count(slow: Watched):
    token, url = slow.token(), slow.server.url
    before = slow.dwp_bytes()
    first = httpx.post(
        f"{url}/v1/queries", params={"wait": 0}, headers=_auth(token), json={"sql": LONG, "project": DEMO}
    )
    assert first.status_code == 202, first.text
    query = first.json()["query"]
    answers = [first]
    deadline = time.monotonic() + 60
    while not (answers[-1].json().get("stage") == "reading" and slow.dwp_bytes() > before):
        assert time.monotonic() < deadline, answers[-1].text
        answers.append(_poll(url, token, query))
    time.sleep(2)  # a request or two answered: the engine has counted bytes
    answers.append(_poll(url, token, query))
    cancel = httpx.delete(f"{url}/v1/queries/{query}", headers=_auth(token), timeout=30)
    assert cancel.status_code == 200 and cancel.json()["state"] == "cancelled", cancel.text
    after = _poll(url, token, query)
    assert after.status_code == 409 and after.json()["error"] == "query_cancelled", after.text

    # An interrupted query's bytes are not counted (the engine counts once, when a query ends); what DWP's own
    # server sent for it is the figure that must not reach the analyst.
    served = slow.dwp_bytes() - before
    assert served > 0
    for answer in [*answers, cancel, after]:
        assert leaks(answer.json(), served) == [] and str(served) not in answer.text, answer.text


def test_the_embedded_sessions_progress_and_output_carry_no_byte_count(slow: Watched):
    session = Trust.open(slow.home).session("ana", DEMO)
    seen: list[Mapping[str, Any]] = []
    out = session.sql(LONG, on_progress=seen.append)
    recorded = slow.recorded("output_created", "output", out.id)
    assert recorded is not None and recorded > 0
    assert [s["stage"] for s in seen].count("reading") >= 2, [s["stage"] for s in seen]
    for state in seen:
        assert leaks(state, recorded) == [], state
    assert set(out.stats) <= ANALYST_STATS and leaks(dict(out.stats), recorded) == [], out.stats


def test_what_an_analyst_is_told_was_scanned_does_not_depend_on_the_data(watched: Watched):
    """Two thresholds, two different reads for the engine, the same figures for the analyst: the
    catalogue's row counts, whatever row groups the engine skipped."""
    session = Trust.open(watched.home).session("ana", DEMO)
    rows = {ds.id: ds.row_count for ds in session.catalog() if ds.id == "dwp.uc_claims"}
    low, high = (session.sql(ABOVE.format(x)) for x in (0, 1_000_000))
    for out in (low, high):
        assert out.stats["datasets"] == rows and out.stats["rows_scanned"] == sum(rows.values())
        assert set(out.stats) <= ANALYST_STATS
