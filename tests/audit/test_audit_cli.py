"""``trust audit show | search`` and the transparency report, run as the ``trust`` command, as a process.

The history is made through the service (users, stored outputs of two projects, a query refused for
a mistyped project id); every expectation is computed from ``trust audit show``'s own full listing,
so a filter that was ignored, or applied loosely, changes the answer.
"""

from __future__ import annotations

import csv
import datetime as dt
import doctest
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trust.audit.search
from trust.audit.kinds import EventKind
from trust.demo.environment import seed_users
from trust.errors import UnknownName
from trust.server.launch import trust_command
from trust.service import Trust

from ..outputs.conftest import OTHER_PROJECT, PROJECT, store_output

TYPO = "demo-employmnet-support"  # one letter swapped: not a registered project
SQL = "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region"


def _history(home: Path) -> Path:
    t = Trust.open(home)
    seed_users(t)
    store_output(t)
    store_output(t, user="bob", project=OTHER_PROJECT)
    t.audit.record(
        EventKind.DATASET_UNAVAILABLE, "trust", None, dataset="dfe.learners", department="DfE", reason="unreachable"
    )
    with pytest.raises(UnknownName):
        t.queries.run("ana", TYPO, SQL)  # refused and audited, as the server would
    t.audit.record(EventKind.QUERY_REFUSED, "bob", OTHER_PROJECT, sql=SQL, error="PolicyDenied", rule="x", message="m")
    store_output(t)
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One history for the tests that only read it."""
    return _history(tmp_path_factory.mktemp("audit-home"))


@pytest.fixture(scope="module")
def every(home: Path) -> list[dict[str, Any]]:
    """Every event, as ``trust audit show`` lists them."""
    return _all(home)


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    r = trust_command(*args, home=home)
    assert "Traceback" not in r.stdout + r.stderr
    return r.returncode, r.stdout, r.stderr


def _events(home: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = _run(home, "audit", *args, "--json")
    assert code == 0, err
    return list(json.loads(out))


def _all(home: Path) -> list[dict[str, Any]]:
    return _events(home, "show", "--limit", "100000")


def _count(home: Path) -> int:
    with sqlite3.connect(home / "state.db") as con:
        return int(con.execute("SELECT count(*) FROM audit_events").fetchone()[0])


def test_show_lists_the_newest_events_first_one_line_each(home, every):
    assert len(every) == _count(home) > 5
    assert [e["seq"] for e in every] == sorted((e["seq"] for e in every), reverse=True)
    assert _events(home, "show", "--limit", "3") == every[:3]
    assert every[0]["kind"] == "output_created" and every[0]["user"] == "ana"

    code, out, _ = _run(home, "audit", "show", "--limit", "4")
    lines = out.rstrip("\n").splitlines()
    assert code == 0 and len(lines) == 2 + 4 + 1  # header, rule, one line per event, and the note
    assert lines[0].split()[:5] == ["#", "time", "(UTC)", "kind", "user"]
    for line, event in zip(lines[2:6], every[:4]):
        assert line.split()[0] == str(event["seq"]) and event["kind"] in line and event["user"] in line
        assert event["time"][:19].replace("T", " ") in line
    newest = lines[2]
    assert PROJECT in newest and "dwp.uc_claims" in newest and every[0]["payload"]["output"] in newest
    assert lines[-1] == "the newest 4 shown; --limit N for more"


def _by_or_about(user: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["user"] == user or e["payload"].get("user") == user


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (("--user", "bob"), _by_or_about("bob")),
        (("--project", OTHER_PROJECT), lambda e: e["project"] == OTHER_PROJECT),
        (("--dataset", "dfe.learners"), lambda e: "dfe.learners" in e["datasets"]),
        (("--dataset", "dwp.uc_claims"), lambda e: "dwp.uc_claims" in e["datasets"]),
        (("--kind", "output_created"), lambda e: e["kind"] == "output_created"),
        (
            ("--kind", "query_refused,dataset_unavailable"),
            lambda e: e["kind"] in ("query_refused", "dataset_unavailable"),
        ),
    ],
)
def test_each_filter_keeps_exactly_the_matching_events(home, every, args, wanted):
    expected = [e["seq"] for e in every if wanted(e)]
    assert 0 < len(expected) < len(every)  # the filter must leave some out, or ignoring it would pass
    assert [e["seq"] for e in _events(home, "search", *args)] == expected


def test_filters_combine(home, every):
    anas_outputs = [e["seq"] for e in every if e["kind"] == "output_created" and e["user"] == "ana"]
    assert len(anas_outputs) == 2
    found = _events(home, "search", "--user", "ana", "--kind", "output_created", "--dataset", "dwp.uc_claims")
    assert [e["seq"] for e in found] == anas_outputs
    newest = _events(home, "search", "--user", "ana", "--project", PROJECT, "--kind", "output_created", "--limit", "1")
    assert [e["seq"] for e in newest] == anas_outputs[:1]
    # Each of these matches something alone; together, nothing.
    assert _events(home, "search", "--user", "bob") and _events(home, "search", "--project", PROJECT)
    assert _events(home, "search", "--user", "bob", "--project", PROJECT) == []
    code, out, _ = _run(home, "audit", "search", "--user", "bob", "--project", PROJECT)
    assert code == 0 and out.strip() == "no audit events match"
    # A mistyped project stays findable by the administrators, in the audit itself.
    typo = _events(home, "search", "--project", TYPO)
    assert [(e["kind"], e["user"]) for e in typo] == [("query_refused", "ana")]


def test_since_and_until(home, every):
    pivot = next(e for e in every if e["kind"] == "dataset_unavailable")["time"]
    after = [e["seq"] for e in every if e["time"] >= pivot]
    before = [e["seq"] for e in every if e["time"] < pivot]
    assert after and before
    assert [e["seq"] for e in _events(home, "search", "--since", pivot)] == after
    assert [e["seq"] for e in _events(home, "search", "--until", pivot)] == before
    outputs_after = [e["seq"] for e in every if e["time"] >= pivot and e["kind"] == "output_created"]
    assert [e["seq"] for e in _events(home, "search", "--since", pivot, "--kind", "output_created")] == outputs_after
    today = dt.date.fromisoformat(every[0]["time"][:10])
    assert [e["seq"] for e in _events(home, "search", "--since", str(today), "--until", str(today))] == [
        e["seq"] for e in every
    ]
    assert _events(home, "search", "--since", str(today + dt.timedelta(days=1))) == []
    assert _events(home, "search", "--until", str(today - dt.timedelta(days=1))) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--kind", "tokn_issued"), "No kind of audit event is called 'tokn_issued'. Did you mean 'token_issued'?"),
        (("--since", "yesterday"), "--since must be an ISO date or time"),
        (("--since", "2026-12-02", "--until", "2026-12-01"), "--until (2026-12-01) must be later than --since"),
    ],
)
def test_a_bad_filter_is_one_clear_line(home, args, says):
    code, out, err = _run(home, "audit", "search", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and says in err


def test_reading_the_audit_writes_nothing_and_keeps_the_chain(home):
    head = (home / "state.db.audit-head").read_bytes()
    count = _count(home)
    _all(home)
    _events(home, "search", "--user", "ana", "--since", "2020-01-01")
    _run(home, "audit", "show")
    assert _count(home) == count and (home / "state.db.audit-head").read_bytes() == head
    code, out, _ = _run(home, "audit", "verify")
    assert code == 0 and out.startswith(f"ok: {count} events, chain intact")


def test_the_transparency_report_never_names_a_mistyped_project(trust_home, tmp_path):
    home = _history(trust_home)  # its own: the export is itself an audit event
    assert any(e["project"] == TYPO for e in _all(home))  # the refusal is in the audit
    out = tmp_path / "report"
    code, _, err = _run(home, "audit", "export", "--out", str(out))
    assert code == 0, err
    for name in ("transparency.json", "projects.csv", "usage.csv", "releases.csv"):
        assert TYPO not in (out / name).read_text()
    report = json.loads((out / "transparency.json").read_text())
    assert report["queries_refused_for_unregistered_projects"] == 1
    with open(out / "projects.csv", newline="") as f:
        projects = {row["project"]: row for row in csv.DictReader(f)}
    assert set(projects) == {PROJECT, OTHER_PROJECT}
    assert projects[OTHER_PROJECT]["queries_refused"] == "1" and projects[PROJECT]["outputs"] == "2"


def test_the_search_module_examples_run():
    assert doctest.testmod(trust.audit.search).failed == 0
