"""Kill ``trust serve`` in the middle of a release; after a restart nothing acknowledged is lost or duplicated.

The server is started with ``TRUST_FAULT_PAUSE_RELEASE_S`` so the bundle build pauses after its
first file: the second approval is committed (with its audit events) but the request is not yet
released and the checker has had no answer. The server is then killed (SIGKILL: no clean-up).
After a restart the trust finishes the release once, from the state it recorded.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

import trust
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.outputs.bundle import FAULT_PAUSE_ENV, verify_bundle
from trust.outputs.release import ReleaseState
from trust.server.launch import launch_trust
from trust.service import Trust

from ..outputs.conftest import JUSTIFICATION, store_output


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.05)


def test_a_release_killed_mid_build_finishes_once_after_restart(tmp_path: Path, departments: DepartmentServers):
    home = tmp_path / "home"
    configure_home(home, departments.endpoints)  # a server is ready once it can serve a dataset
    t = Trust.open(home)
    seed_users(t)
    first, second = store_output(t, statuses={1: "suppressed"}), store_output(t)
    tokens = {u: t.access.issue_token(u).secret for u in ("ana", "carol", "dev")}
    key = uuid.uuid4().hex

    with launch_trust(home, workers=2, env={FAULT_PAUSE_ENV: "120"}, name="doomed") as server:
        submitted = httpx.post(
            f"{server.url}/v1/releases",
            headers={"Authorization": f"Bearer {tokens['ana']}", "Idempotency-Key": key},
            json={"outputs": [first.id, second.id], "justification": JUSTIFICATION},
            timeout=30,
        )
        assert submitted.status_code == 201
        request_id = submitted.json()["id"]
        carol = trust.Client(server.url, token=tokens["carol"])
        assert (
            carol.review_release(request_id, {first.id: "approve", second.id: "approve"}).state
            is ReleaseState.UNDER_REVIEW
        )
        acknowledged = [(e.seq, e.hash) for e in Trust.open(home).audit.events()]

        dev = trust.Client(server.url, token=tokens["dev"], retries=0, timeout=180)
        answer: list[object] = []

        def approve() -> None:
            try:
                answer.append(dev.review_release(request_id, {first.id: "approve", second.id: "approve"}))
            except trust.TrustError as exc:
                answer.append(exc)

        thread = threading.Thread(target=approve, daemon=True)
        thread.start()
        releases = home / "releases"
        _wait_for(lambda: any(releases.glob(f".{request_id}.tmp-*/outputs/*/table.csv")))
        assert Trust.open(home).airlock.get("ana", request_id).state is ReleaseState.APPROVED
        server.process.kill()  # mid-build, before the release is recorded or dev is answered
        server.process.wait(10)
        thread.join(30)
        carol.close()
        dev.close()
    assert answer and isinstance(answer[0], trust.TrustError)  # dev never heard back: not acknowledged
    assert not (releases / request_id).exists() and any(releases.glob(f".{request_id}.tmp-*"))

    with launch_trust(home, workers=2, name="restarted") as server:
        with (
            trust.Client(server.url, token=tokens["ana"]) as ana,
            trust.Client(server.url, token=tokens["dev"]) as dev_again,
        ):
            released = ana.release(request_id)
            assert released.state is ReleaseState.RELEASED  # finished as the server started
            assert verify_bundle(ana.download_release(request_id, tmp_path / "download")) == []
            with pytest.raises(trust.InvalidTransition, match="not waiting"):  # dev retries: not duplicated
                dev_again.review_release(request_id, {first.id: "approve", second.id: "approve"})
            again = httpx.post(
                f"{server.url}/v1/releases",
                headers={  # ana's submission, retried
                    "Authorization": f"Bearer {tokens['ana']}",
                    "Idempotency-Key": key,
                },
                json={"outputs": [first.id, second.id], "justification": JUSTIFICATION},
                timeout=30,
            )
            assert again.status_code == 201 and again.json()["id"] == request_id

    after = Trust.open(home)
    events = after.audit.events()
    assert after.audit.verify()[0]
    assert [(e.seq, e.hash) for e in events[: len(acknowledged)]] == acknowledged  # nothing acknowledged was lost
    mine = [e for e in events if e.payload.get("request") == request_id]
    assert [e.payload["action"] for e in mine if e.kind == "release_transition"] == [
        "submit",
        "review",
        "approve",
        "release",
    ]
    assert [e.actor for e in mine if e.kind == "release_reviewed"] == ["carol", "dev"]
    assert [e.kind for e in mine].count("release_created") == 1
    assert len(after.airlock.list("ana")) == 1
    assert [p.name for p in releases.iterdir()] == [request_id]  # one bundle; the half-built one is gone
