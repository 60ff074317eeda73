"""kill -9 while queries, release requests and reviews are arriving: after a restart nothing that was
acknowledged is lost, retries with the same keys make nothing twice, and the state and the audit
chain agree (issue 13)."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.faults.conftest import DEMO
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.server.launch import issue_token, launch_trust, trust_command
from trust.service import Trust

JUSTIFICATION = "Counts by region and sex, for the evaluation report."
QUERIES = [
    f"SELECT region, sex, count(*) AS n FROM dwp.uc_claims WHERE award_amount > {d * 5} GROUP BY region, sex"
    for d in range(40)
]


def _call(method: str, url: str, token: str, key: str, **kwargs: object) -> httpx.Response | None:
    try:
        return httpx.request(
            method, url, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}, timeout=60, **kwargs
        )
    except httpx.TransportError:
        return None  # the server died before it answered: not acknowledged


def test_kill_9_under_concurrent_queries_and_releases_loses_nothing_acknowledged(
    tmp_path: Path, departments: DepartmentServers
):
    home = tmp_path / "home"
    configure_home(home, departments.endpoints)
    t = Trust.open(home)
    seed_users(t)
    ana = t.session("ana", DEMO)
    ready = [ana.sql(QUERIES[0]).id, ana.sql(QUERIES[1]).id]  # outputs to ask releases of
    tokens = {u: issue_token(home, u) for u in ("ana", "carol", "dev")}

    work: list[tuple[str, str, str, str, dict]] = []  # (who, method, path, key, json)
    for sql in QUERIES[2:]:
        work.append(("ana", "POST", "/v1/queries?wait=30", uuid.uuid4().hex, {"sql": sql, "project": DEMO}))
    for output in ready:
        work.append(
            ("ana", "POST", "/v1/releases", uuid.uuid4().hex, {"outputs": [output], "justification": JUSTIFICATION})
        )

    acknowledged: dict[str, str] = {}  # key -> the id the server answered with
    lock = threading.Lock()
    with launch_trust(home, workers=4, name="killed") as server:

        def send(item: tuple[str, str, str, str, dict]) -> None:
            who, method, path, key, body = item
            r = _call(method, server.url + path, tokens[who], key, json=body)
            if r is not None and r.status_code in (200, 201):
                with lock:
                    acknowledged[key] = r.headers.get("X-Trust-Output") or r.json()["id"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(send, item) for item in work]
            deadline = time.monotonic() + 30
            while len(acknowledged) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            server.process.kill()  # kill -9, mid-stream
            server.process.wait(10)
            for f in futures:
                f.result()
    assert 5 <= len(acknowledged) < len(work), len(acknowledged)  # it died with work under way

    verified = trust_command("audit", "verify", home=home)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    with launch_trust(home, workers=4, name="restarted") as server:
        answers: dict[str, str] = {}
        for who, method, path, key, body in work:  # every request retried once, with its key
            r = _call(method, server.url + path, tokens[who], key, json=body)
            assert r is not None and r.status_code in (200, 201), r.text if r is not None else "no answer"
            answers[key] = r.headers.get("X-Trust-Output") or r.json()["id"]
        for key, first in acknowledged.items():
            assert answers[key] == first  # acknowledged before the kill: the same result, not a new one
        for who, method, path, key, body in work:  # and again: nothing is made twice
            r = _call(method, server.url + path, tokens[who], key, json=body)
            assert r is not None and (r.headers.get("X-Trust-Output") or r.json()["id"]) == answers[key]
        for output in (a for k, a in answers.items() if a.startswith("out-")):
            got = httpx.get(f"{server.url}/v1/outputs/{output}", headers={"Authorization": f"Bearer {tokens['ana']}"})
            assert got.status_code == 200

    with sqlite3.connect(home / "state.db") as con:
        outputs = con.execute("SELECT count(*) FROM outputs").fetchone()[0]
        requests = con.execute("SELECT count(*) FROM release_requests").fetchone()[0]
    assert outputs == len(ready) + len(QUERIES) - 2 and requests == len(ready)  # one per key, none twice
    verified = trust_command("audit", "verify", home=home)
    assert verified.returncode == 0, verified.stdout
