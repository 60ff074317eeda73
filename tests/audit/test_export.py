"""``trust audit export``: the transparency report, in JSON and CSV, from the audit trail."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from trust.audit.export import FILES
from trust.audit.kinds import EventKind
from trust.service import Trust

from ..outputs.cli import run
from ..outputs.conftest import JUSTIFICATION, OTHER_PROJECT, store_output


@pytest.fixture
def history(offline_trust: Trust) -> Trust:
    """Two projects' outputs and refusals, a released request, a rejected one and one waiting."""
    t = offline_trust
    a, b = store_output(t), store_output(t, statuses={1: "suppressed"})
    store_output(t, user="bob", project=OTHER_PROJECT)
    t.audit.record(
        EventKind.QUERY_REFUSED, "bob", OTHER_PROJECT, sql="SELECT …", error="PolicyDenied", rule="x", message="m"
    )
    released = t.airlock.request("ana", [a.id, b.id], JUSTIFICATION)
    for checker in ("carol", "dev"):
        t.airlock.review(checker, released.id, {a.id: ("approve", ""), b.id: ("approve", "")})
    rejected = t.airlock.request("ana", [b.id], JUSTIFICATION + " Again.")
    t.airlock.review("dev", rejected.id, {b.id: ("reject", "The margins give the [c] cells away.")})
    t.airlock.request("ana", [a.id], JUSTIFICATION + " Once more.")
    t.airlock.request("ana", [a.id], JUSTIFICATION + " A draft.", submit=False)
    return t


@pytest.fixture
def offline_trust(trust_home: Path) -> Trust:
    from trust.demo.environment import seed_users

    t = Trust.open(trust_home)
    seed_users(t)
    return t


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_report_says_what_was_used_by_whom_for_what_and_what_was_released(history, tmp_path, capsys, monkeypatch):
    head = history.audit.events()[-1]
    code, out, _ = run(capsys, monkeypatch, "audit", "export", "--out", str(tmp_path))
    assert code == 0 and out.split() == [str(tmp_path / name) for name in FILES]
    report = json.loads((tmp_path / "transparency.json").read_text())
    assert report["audit"]["chain_intact"] and report["audit"]["head_hash"] == head.hash

    projects = {p["project"]: p for p in _rows(tmp_path / "projects.csv")}
    assert projects["demo-employment-support"]["purpose"] == "employment_support"
    assert "Digital Economy Act" in projects["demo-employment-support"]["legal_gateway"]
    assert (
        projects["demo-employment-support"]["outputs"],
        projects["demo-employment-support"]["releases_released"],
        projects["demo-employment-support"]["releases_rejected"],
        projects["demo-employment-support"]["releases_in_progress"],
    ) == ("2", "1", "1", "1")
    assert projects[OTHER_PROJECT]["queries_refused"] == "1"

    usage = _rows(tmp_path / "usage.csv")
    assert [(u["project"], u["dataset"], u["department"], u["outputs"]) for u in usage] == [
        ("demo-dwp-caseload", "dwp.uc_claims", "DWP", "1"),
        ("demo-employment-support", "dwp.uc_claims", "DWP", "2"),
    ]

    releases = {r["state"]: r for r in _rows(tmp_path / "releases.csv")}
    assert set(releases) == {"released", "rejected", "submitted"}  # the draft never reached the checkers
    done = releases["released"]
    assert done["approved_by"] == "HMRC;ONS" and done["requested_by"] == "DWP" and done["datasets"] == "dwp.uc_claims"
    assert done["justification"] == JUSTIFICATION and len(done["bundle_sha256"]) == 64 and done["decided"]
    assert releases["rejected"]["approved_by"] == "" and releases["submitted"]["decided"] == ""
    assert report["releases"] == [dict(r, **{}) for r in report["releases"]] and len(report["usage"]) == 2

    text = "".join((tmp_path / name).read_text() for name in FILES)
    for private in ('"carol"', ",carol", '"ana"', ",ana,", "SELECT", "units"):  # people, SQL, figures
        assert private not in text, private
    assert history.audit.events(kind="audit_exported")[-1].payload["files"]["transparency.json"]


def test_a_broken_chain_is_reported_not_hidden(history, tmp_path, capsys, monkeypatch):
    with sqlite3.connect(history.store.path) as con:
        con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    code, _, err = run(capsys, monkeypatch, "audit", "export", "--out", str(tmp_path))
    assert code == 0 and "the audit chain is broken" in err
    report = json.loads((tmp_path / "transparency.json").read_text())
    assert not report["audit"]["chain_intact"] and report["audit"]["chain"].startswith("event 3 ")
