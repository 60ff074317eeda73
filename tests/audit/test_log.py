"""The audit chain detects edits, deletions and reordering, and names the first broken event."""

from __future__ import annotations

import sqlite3

import pytest

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.store import Store


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(Store(tmp_path / "state.db"))
    for i in range(5):
        audit.record(EventKind.QUERY_REFUSED, "ana", "p", n=i)
    return audit


def _db(log: AuditLog) -> sqlite3.Connection:
    return sqlite3.connect(log.store.path, isolation_level=None)


def test_intact_chain_verifies(log):
    assert log.verify() == (True, "5 events, chain intact")
    events = log.events()
    assert [e.payload["n"] for e in events] == list(range(5))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))


def test_edit_is_detected(log):
    _db(log).execute("""UPDATE audit_events SET payload = '{"n":99}' WHERE seq = 3""")
    ok, why = log.verify()
    assert not ok and why.startswith("event 3 ") and "edited" in why


def test_deletion_is_detected(log):
    _db(log).execute("DELETE FROM audit_events WHERE seq = 2")
    ok, why = log.verify()
    assert not ok and "event 2 is missing" in why


def test_deleting_the_tail_and_rechaining_a_copy_is_detected(log):
    con = _db(log)
    con.execute("UPDATE audit_events SET prev_hash = (SELECT prev_hash FROM audit_events WHERE seq = 2) WHERE seq = 3")
    ok, why = log.verify()
    assert not ok and why.startswith("event 3 ")


def test_reordering_is_detected(log):
    con = _db(log)
    con.execute("UPDATE audit_events SET seq = 100 WHERE seq = 2")
    con.execute("UPDATE audit_events SET seq = 2 WHERE seq = 4")
    con.execute("UPDATE audit_events SET seq = 4 WHERE seq = 100")
    ok, why = log.verify()
    assert not ok and why.startswith("event 2 ")


def test_events_survive_reopening(log, tmp_path):
    again = AuditLog(Store(tmp_path / "state.db"))
    assert len(again.events()) == 5 and again.verify()[0]
