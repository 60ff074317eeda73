"""A request returned for changes: threaded comments on outputs and cells (for the analyst, or among checkers
only), the analyst replying, a corrected output replacing the first with the link kept, and the diff a
checker sees between the round they reviewed and the new one."""

from __future__ import annotations

import json

import pytest

from trust.errors import InvalidTransition, NotAuthorised, TrustError, UnknownName
from trust.outputs.release import ReleaseState
from trust.service import Trust

from .conftest import JUSTIFICATION, MakeOutput

REASON = {(3, "claimants"): "Refunds, not individual amounts."}


@pytest.fixture
def returned(offline: Trust, make_output: MakeOutput):
    a = make_output(statuses={1: "suppressed", 3: "review"})
    b = make_output()
    request = offline.airlock.request("ana", [a.id, b.id], JUSTIFICATION, cell_reasons={a.id: REASON})
    done = offline.airlock.review(
        "carol", request.id, {a.id: ("changes", "Row 4 needs a rounded figure."), b.id: ("approve", "")}
    )
    assert done.state is ReleaseState.RETURNED
    return request.id, a, b


def test_comments_thread_on_cells_and_checkers_notes_stay_among_checkers(offline: Trust, returned):
    request_id, a, _ = returned
    air = offline.airlock
    ask = air.comment("carol", request_id, "Why is this cell suppressed?", output=a.id, cell=(1, "claimants"))
    note = air.comment("carol", request_id, "Second checker: look at row 2 too.", output=a.id, checkers_only=True)
    assert (ask.cell, ask.audience, note.audience) == ("1:claimants", "analyst", "checkers")

    seen = air.comments("ana", request_id)
    assert [c.id for c in seen] == [ask.id]  # the checkers' note is not for the analyst
    reply = air.comment("ana", request_id, "Fewer than ten claimants there.", reply_to=ask.id)
    assert (reply.parent, reply.output, reply.cell, reply.audience) == (ask.id, a.id, "1:claimants", "analyst")
    again = air.comment("dev", request_id, "Thanks, that is fine.", reply_to=reply.id)
    assert again.parent == ask.id  # a reply to a reply joins the thread's first comment
    assert [c.id for c in air.comments("dev", request_id)] == [ask.id, note.id, reply.id, again.id]
    assert [c.id for c in air.comments("ana", request_id)] == [ask.id, reply.id, again.id]

    with pytest.raises(UnknownName):  # the analyst cannot find, so cannot answer, a checkers' note
        air.comment("ana", request_id, "What note?", reply_to=note.id)
    with pytest.raises(NotAuthorised):
        air.comment("ana", request_id, "Just for checkers.", checkers_only=True)
    with pytest.raises(UnknownName):  # bob is neither the author nor a checker: to him the request does not exist
        air.comment("bob", request_id, "Hello", output=a.id)
    with pytest.raises(TrustError, match="Cell 9:claimants is not in"):
        air.comment("carol", request_id, "Out of range.", output=a.id, cell="9:claimants")
    with pytest.raises(TrustError, match="between 1 and"):
        air.comment("carol", request_id, "   ")
    kinds = [e.kind for e in offline.audit.events() if e.payload.get("request") == request_id]
    assert kinds.count("release_commented") == 4


def test_a_corrected_output_replaces_the_first_and_the_checkers_see_what_changed(
    offline: Trust, returned, make_output: MakeOutput
):
    request_id, a, b = returned
    air = offline.airlock
    corrected = make_output(statuses={1: "suppressed"})  # row 4 now published as a plain figure
    with pytest.raises(TrustError, match="must be your own output"):
        air.replace("ana", request_id, a.id, make_output(user="bob", project="demo-dwp-caseload").id)
    changed = air.replace("ana", request_id, a.id, corrected.id)
    assert [(o.output, o.replaces) for o in changed.outputs] == [(corrected.id, a.id), (b.id, None)]
    air.edit("ana", request_id, justification=JUSTIFICATION + " Row 4 is now rounded.")
    resubmitted = air.submit("ana", request_id)
    assert (resubmitted.state, resubmitted.round) == (ReleaseState.SUBMITTED, 2)
    with pytest.raises(InvalidTransition, match="returned for changes"):
        air.replace("ana", request_id, corrected.id, make_output().id)

    diff = air.diff("carol", request_id)  # since round 1, the last carol reviewed
    assert (diff.before, diff.after, diff.justification_changed) == (1, 2, True)
    [change] = diff.outputs
    assert (change.kind, change.output, change.replaces) == ("replaced", corrected.id, a.id)
    assert [(c.row, c.column, c.before, c.after) for c in change.cells] == [
        ("region=E12000004", "claimants", "review [c]", "ok 121")
    ]
    assert (dict(change.reasons_before), dict(change.reasons_after)) == ({"3:claimants": REASON[(3, "claimants")]}, {})
    assert air.diff("dev", request_id).to_json() == diff.to_json()  # dev never reviewed: since the round before
    assert [r.number for r in air.rounds("ana", request_id)] == [1, 2]
    with pytest.raises(TrustError, match="cannot be compared"):
        air.diff("carol", request_id, since=2)

    for checker in ("carol", "dev"):
        done = air.review(checker, request_id, {corrected.id: ("approve", ""), b.id: ("approve", "")})
    assert done.state is ReleaseState.RELEASED
    about = json.loads((air.archive("ana", request_id).parent / "request.json").read_text())
    assert about["outputs"] == [corrected.id, b.id] and about["replaced"] == {corrected.id: a.id}


def test_the_same_request_unchanged_shows_an_empty_diff(offline: Trust, returned):
    request_id, _, _ = returned
    offline.airlock.submit("ana", request_id)
    assert offline.airlock.diff("carol", request_id).empty


def test_the_api_and_client_comment_replace_and_diff(offline: Trust, returned, make_output: MakeOutput, live_server):
    from trust import Client

    request_id, a, _ = returned

    def client(user: str) -> Client:
        return Client(live_server, token=offline.access.issue_token(user).secret, progress=False)

    ana, carol, bob = client("ana"), client("carol"), client("bob")
    ask = carol.comment_release(request_id, "Why suppressed?", output=a.id, cell=(1, "claimants"))
    carol.comment_release(request_id, "Between us checkers.", checkers_only=True)
    reply = ana.comment_release(request_id, "Fewer than ten.", reply_to=ask.id)
    assert [c.body for c in ana.release_comments(request_id)] == ["Why suppressed?", "Fewer than ten."]
    assert reply.parent == ask.id and len(carol.release_comments(request_id)) == 3
    with pytest.raises(TrustError, match="No release request"):  # another project's analyst: as if it did not exist
        bob.release_comments(request_id)
    corrected = make_output(statuses={1: "suppressed"})
    with pytest.raises(TrustError, match="No output"):  # bob's output is not ana's to find
        ana.replace_output(request_id, a.id, make_output(user="bob", project="demo-dwp-caseload").id)
    assert ana.replace_output(request_id, a.id, corrected.id).outputs[0].replaces == a.id
    ana.submit_release(request_id)
    diff = carol.release_diff(request_id)
    assert [(o["kind"], o["replaces"]) for o in diff["outputs"]] == [("replaced", a.id)]
    for c in (ana, carol, bob):
        c.close()


def test_the_cli_comments_replaces_and_shows_the_diff(
    offline: Trust, returned, make_output: MakeOutput, capsys, monkeypatch
):
    from .cli import run

    request_id, a, _ = returned
    code, out, _ = run(capsys, monkeypatch, "release", "comment", request_id, "Why?", "--user", "carol",
                       "--output", a.id, "--cell", "1:claimants")  # fmt: skip
    assert code == 0 and out.startswith("cmt-")
    ask = out.split()[0]
    run(capsys, monkeypatch, "release", "comment", request_id, "A note.", "--user", "dev", "--checkers-only")
    code, out, _ = run(capsys, monkeypatch, "release", "comment", request_id, "Fewer than ten.", "--user", "ana",
                       "--reply-to", ask)  # fmt: skip
    assert code == 0 and f"a reply to {ask}" in out
    code, out, _ = run(capsys, monkeypatch, "release", "comments", request_id, "--user", "ana")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and f"on {a.id} 1:claimants: Why?" in lines[0]
    assert lines[1].startswith("    cmt-") and lines[1].endswith("ana on " + a.id + " 1:claimants: Fewer than ten.")
    code, out, _ = run(capsys, monkeypatch, "release", "comments", request_id, "--user", "carol")
    assert "A note." in out and "(checkers only)" in out

    corrected = make_output(statuses={1: "suppressed"})
    code, out, _ = run(capsys, monkeypatch, "release", "replace", request_id, a.id, corrected.id, "--user", "ana")
    assert code == 0 and f"{corrected.id} replaces {a.id}" in out
    offline.airlock.submit("ana", request_id)
    code, out, _ = run(capsys, monkeypatch, "release", "diff", request_id, "--user", "carol")
    assert code == 0 and f"replaced {corrected.id} (replaces {a.id})" in out
    assert "region=E12000004 claimants: review [c] -> ok 121" in out
    code, _, err = run(capsys, monkeypatch, "release", "diff", request_id, "--user", "carol", "--since", "5")
    assert code == 2 and "cannot be compared" in err
