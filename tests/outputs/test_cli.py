"""``trust release status | list | download``: in-process as ``--user``, or against a server as the token's user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trust.outputs.bundle import verify_bundle
from trust.service import Trust

from .cli import run
from .conftest import JUSTIFICATION, MakeOutput


@pytest.fixture
def released(offline: Trust, make_output: MakeOutput) -> str:
    out = make_output(statuses={1: "suppressed"})
    request = offline.airlock.request("ana", [out.id], JUSTIFICATION)
    for checker in ("carol", "dev"):
        offline.airlock.review(checker, request.id, {out.id: ("approve", f"Checked by {checker}.")})
    return request.id


def test_status_shows_state_reviews_and_history(offline, released, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "release", "status", released, "--user", "ana")
    assert code == 0
    assert f"{released}  released: the bundle is ready for its author to download" in out
    assert "Checked by carol." in out and "approved -> released  (release, trust)" in out
    code, out, _ = run(capsys, monkeypatch, "release", "status", released, "--user", "ana", "--json")
    assert json.loads(out)["state"] == "released"


def test_list_filters_by_state_and_shows_only_what_the_user_may_see(
    offline, released, make_output, capsys, monkeypatch
):
    waiting = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    code, out, _ = run(capsys, monkeypatch, "release", "list", "--user", "carol", "--state", "submitted")
    assert code == 0 and waiting.id in out and released not in out
    code, out, _ = run(capsys, monkeypatch, "release", "list", "--user", "bob")
    assert code == 0 and released not in out and waiting.id not in out
    code, _, err = run(capsys, monkeypatch, "release", "list", "--user", "carol", "--state", "approvedd")
    assert code == 2 and "Unknown state(s) approvedd" in err


def test_without_a_server_or_a_user_it_says_what_to_do(capsys, monkeypatch, offline):
    monkeypatch.delenv("TRUST_URL", raising=False)
    monkeypatch.delenv("TRUST_USER", raising=False)
    code, _, err = run(capsys, monkeypatch, "release", "status", "rel-000000000000")
    assert code == 2 and "--user NAME" in err and "TRUST_URL" in err


def test_download_checks_the_bundle(offline, released, tmp_path: Path, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "release", "download", released, "--user", "ana", "--to", str(tmp_path))
    assert code == 0 and verify_bundle(tmp_path / released) == []
    code, _, err = run(capsys, monkeypatch, "release", "download", released, "--user", "carol", "--to", str(tmp_path))
    assert code == 2 and "Only the author" in err


def test_against_a_server_as_the_tokens_user(offline, released, live_server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TRUST_URL", live_server)
    monkeypatch.setenv("TRUST_TOKEN", offline.access.issue_token("ana").secret)
    code, out, _ = run(capsys, monkeypatch, "release", "status", released)
    assert code == 0 and "released" in out and "Checked by dev." in out
    code, out, _ = run(capsys, monkeypatch, "release", "download", released, "--to", str(tmp_path))
    assert code == 0 and verify_bundle(tmp_path / released) == []
    monkeypatch.setenv("TRUST_TOKEN", offline.access.issue_token("bob").secret)
    code, _, err = run(capsys, monkeypatch, "release", "status", released)
    assert code == 2 and f"No release request {released!r} among your projects' requests" in err  # as if none
