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
from trust.errors import StateDisagrees
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
    """The exit code and the chain's line (the first)."""
    code, lines = _verify_all(home)
    return code, lines[0]


def _verify_all(home: Path) -> tuple[int, list[str]]:
    result = trust_command("audit", "verify", home=home)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout.strip().splitlines()


def test_an_intact_trail_verifies(home):
    code, lines = _verify_all(home)
    assert code == 0 and lines == [
        f"ok: {len(_kinds(home))} events, chain intact",
        "ok: 2 stored outputs, release requests and dataset versions match their audit events",
    ]


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


# -- the state against the chain: rows edited behind the events' back ------------------------------
def test_a_request_set_back_to_approved_by_hand_is_named_and_never_released(home):
    t = Trust.open(home)
    out = store_output(t)
    request = t.airlock.request("ana", [out.id], JUSTIFICATION)
    t.airlock.review("carol", request.id, {out.id: ("reject", "Too small a group.")})
    assert t.airlock.get("ana", request.id).state.value == "rejected"
    _tamper(home, f"UPDATE release_requests SET state = 'approved' WHERE id = '{request.id}'")

    code, lines = _verify_all(home)
    assert code == 1 and lines[0].startswith("ok: ")  # the chain itself is intact
    assert lines[1].startswith(
        f"BROKEN: the state disagrees with the audit trail, first at release request {request.id}: "
    )
    assert "(approved, its outputs and reviews) differs from what event" in lines[1]

    restarted = Trust.open(home)
    assert restarted.airlock.resume() == []  # the next start does not release it
    assert not (home / "releases" / request.id).exists()
    with pytest.raises(StateDisagrees, match=f"release request {request.id} does not match its audit trail"):
        restarted.airlock.release(request.id)
    events = [e for e in restarted.audit.events() if e.kind == "state_disagrees"]
    assert events and events[-1].payload["subject"] == f"release request {request.id}"


def test_doubled_figures_in_a_stored_output_are_named_and_never_served(home):
    import pyarrow as pa

    t = Trust.open(home)
    out = store_output(t)
    table = t.queries.output("ana", out.id).table
    doubled = table.set_column(1, table.column_names[1], pa.compute.multiply(table.column(1), 2))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, doubled.schema) as writer:
        writer.write_table(doubled)
    con = sqlite3.connect(home / "state.db", isolation_level=None)
    con.execute("UPDATE outputs SET table_ipc = ? WHERE id = ?", (sink.getvalue().to_pybytes(), out.id))
    con.close()

    code, lines = _verify_all(home)
    assert code == 1
    assert lines[1] == (
        f"BROKEN: the state disagrees with the audit trail, first at output {out.id}: its stored content differs "
        f"from what event {_output_event(home, out.id)} recorded"
    )
    with pytest.raises(StateDisagrees):
        Trust.open(home).queries.output("ana", out.id)
    request = Trust.open(home).airlock.request("ana", [out.id], JUSTIFICATION)
    for checker in ("carol", "dev"):
        Trust.open(home).airlock.review(checker, request.id, {out.id: ("approve", "")})
    assert Trust.open(home).airlock.get("ana", request.id).state.value == "approved"  # approved, never released
    assert not (home / "releases" / request.id).exists()


def test_an_output_inserted_by_hand_has_no_event_and_is_named(home):
    t = Trust.open(home)
    out = store_output(t)
    con = sqlite3.connect(home / "state.db", isolation_level=None)
    con.execute(
        "INSERT INTO outputs (id, user_name, project, created, sql, executed_sql, decision, report, fingerprints, "
        "table_ipc, versions) SELECT 'out-forged', user_name, project, created, sql, executed_sql, decision, report, "
        "fingerprints, table_ipc, versions FROM outputs WHERE id = ?",
        (out.id,),
    )
    con.close()
    code, lines = _verify_all(home)
    assert code == 1 and lines[1].endswith("output out-forged: stored, but no audit event records it")
    with pytest.raises(StateDisagrees):
        Trust.open(home).queries.output("ana", "out-forged")


def _output_event(home: Path, output_id: str) -> int:
    with sqlite3.connect(home / "state.db") as con:
        return int(
            con.execute(
                "SELECT seq FROM audit_events WHERE kind = 'output_created' AND json_extract(payload, '$.output') = ?",
                (output_id,),
            ).fetchone()[0]
        )
