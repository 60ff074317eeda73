"""Tampering with the audit events in the database: ``trust audit verify`` names the first broken event.

The trust's real history (users, tokens, a release request taken to release) is edited,
deleted from and reordered with plain SQL, as someone with the database file could; the
``trust`` command, run as a process, must exit 1 and name the first event that no longer fits.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trust.demo.environment import seed_users
from trust.server.launch import trust_command
from trust.service import Trust

from ..outputs.conftest import JUSTIFICATION, store_output


@pytest.fixture
def home(trust_home: Path) -> Path:
    t = Trust.open(trust_home)
    seed_users(t)
    out = store_output(t)
    request = t.airlock.request("ana", [out.id], JUSTIFICATION)
    for checker in ("carol", "dev"):
        t.airlock.review(checker, request.id, {out.id: ("approve", "")})
    return trust_home


def _kinds(home: Path) -> dict[int, str]:
    with sqlite3.connect(home / "state.db") as con:
        return dict(con.execute("SELECT seq, kind FROM audit_events"))


def _tamper(home: Path, *statements: str) -> None:
    con = sqlite3.connect(home / "state.db", isolation_level=None)
    for sql in statements:
        con.execute(sql)
    con.close()


def _verify(home: Path) -> tuple[int, str]:
    result = trust_command("audit", "verify", home=home)
    return result.returncode, result.stdout.strip()


def test_an_intact_trail_verifies(home):
    code, out = _verify(home)
    assert code == 0 and out == f"ok: {len(_kinds(home))} events, chain intact"


def test_an_edited_event_is_named(home):
    kinds = _kinds(home)
    seq = next(s for s, k in kinds.items() if k == "release_reviewed")
    _tamper(
        home,
        f"""UPDATE audit_events SET payload = replace(payload, '"approve"', '"reject"') WHERE seq = {seq}""",
        f"UPDATE audit_events SET payload = replace(payload, 'carol', 'dev') WHERE seq > {seq + 2}",
    )
    code, out = _verify(home)
    assert code == 1 and out == f"BROKEN: event {seq} (release_reviewed) was edited after it was written"


def test_a_deleted_event_is_named(home):
    seq = next(s for s, k in _kinds(home).items() if k == "release_transition")
    _tamper(home, f"DELETE FROM audit_events WHERE seq = {seq}")
    code, out = _verify(home)
    assert code == 1 and out.startswith(f"BROKEN: event {seq} is missing (found {seq + 1} next)")


def test_events_deleted_from_the_end_are_named(home):
    # The rest of the chain is still valid; the head kept outside the database shows the loss.
    total = len(_kinds(home))
    _tamper(home, f"DELETE FROM audit_events WHERE seq >= {total - 1}")
    code, out = _verify(home)
    assert code == 1 and out == (
        f"BROKEN: event {total - 1} is missing: the log ends at event {total - 2} but "
        f"events up to {total} were written: events were deleted from the end"
    )


def test_reordered_events_are_named(home):
    kinds = _kinds(home)
    first, second = sorted(s for s, k in kinds.items() if k == "release_transition")[:2]
    _tamper(
        home,
        f"UPDATE audit_events SET seq = -1 WHERE seq = {first}",
        f"UPDATE audit_events SET seq = {first} WHERE seq = {second}",
        f"UPDATE audit_events SET seq = {second} WHERE seq = -1",
    )
    code, out = _verify(home)
    assert code == 1 and out.startswith(f"BROKEN: event {first} ")


def test_a_rewritten_chain_after_an_edit_is_still_caught(home):
    # Editing an event and recomputing only its own hash breaks the link to the next one.
    seq = next(s for s, k in _kinds(home).items() if k == "release_created")
    _tamper(home, f"UPDATE audit_events SET hash = '{'0' * 64}' WHERE seq = {seq}")
    code, out = _verify(home)
    assert code == 1 and out.startswith(f"BROKEN: event {seq} (release_created)")
