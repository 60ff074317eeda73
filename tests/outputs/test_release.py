"""The release state machine: every state has an owner, every transition is audited, every
illegal transition and every wrong party is refused with a clear error.
"""

from __future__ import annotations

import itertools
import threading

import pytest

from trust.errors import InvalidTransition, NotAuthorised, TrustError, UnknownName
from trust.outputs.release import (
    BY_STATES,
    INITIAL,
    OWNERS,
    SYSTEM,
    TRANSITIONS,
    Actor,
    ReleaseRequest,
    ReleaseState,
    Review,
    ReviewDecision,
    can_move,
    check_can_move,
    outcome,
    transitions_from,
)
from trust.service import Trust
from trust.service.airlock import set_status

from .conftest import JUSTIFICATION, OTHER_PROJECT, MakeOutput

S = ReleaseState
APPROVE, REJECT, CHANGES = "approve", "reject", "changes"


# -- the table itself ----------------------------------------------------------------------------
def test_every_state_has_an_owner_who_can_move_it():
    assert set(OWNERS) == set(ReleaseState)
    for state in ReleaseState:
        moves = transitions_from(state)
        if OWNERS[state] is Actor.NOBODY:
            assert moves == [], f"{state} is final but can move"
        else:
            assert any(t.by is OWNERS[state] for t in moves), f"{state}'s owner {OWNERS[state]} cannot move it"


def test_every_state_is_reachable_and_every_path_ends():
    reached, frontier = {INITIAL}, [INITIAL]
    while frontier:
        for t in transitions_from(frontier.pop()):
            if t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == set(ReleaseState)
    finals = {s for s in ReleaseState if OWNERS[s] is Actor.NOBODY}
    assert finals == {S.RELEASED, S.REJECTED, S.WITHDRAWN}
    assert len(BY_STATES) == len(TRANSITIONS)  # one transition per pair of states


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        ([], None),
        ([("carol", APPROVE, APPROVE)], S.UNDER_REVIEW),
        ([("carol", APPROVE, APPROVE), ("dev", APPROVE, APPROVE)], S.APPROVED),
        ([("carol", APPROVE, REJECT)], S.REJECTED),
        ([("carol", APPROVE, APPROVE), ("dev", CHANGES, APPROVE)], S.RETURNED),
        ([("carol", CHANGES, REJECT)], S.REJECTED),  # any rejection stops it, whatever else was said
        ([("carol", APPROVE, APPROVE), ("carol", APPROVE, APPROVE)], S.UNDER_REVIEW),  # one checker counts once
    ],
)
def test_reviews_decide_the_round(reviews, expected):
    made = [Review(who, 1, out, ReviewDecision(d), "", "t") for who, *ds in reviews for out, d in zip(("a", "b"), ds)]
    assert outcome(made, ["a", "b"]) is expected


# -- driven through the service ------------------------------------------------------------------
def _approve_all(request: ReleaseRequest, decision: str = APPROVE, comment: str = "") -> dict[str, tuple[str, str]]:
    return {o: (decision, comment or ("" if decision == APPROVE else "Because.")) for o in request.output_ids}


PATHS = {
    "released": [("carol", APPROVE), ("dev", APPROVE)],
    "draft withdrawn": ["withdraw"],
    "rejected at once": [("carol", REJECT)],
    "returned, resubmitted, withdrawn": [("carol", CHANGES), "resubmit", "withdraw"],
    "rejected second": [("carol", APPROVE), ("dev", REJECT)],
    "returned second, withdrawn": [("carol", APPROVE), ("dev", CHANGES), "withdraw"],
    "withdrawn under review": [("carol", APPROVE), "withdraw"],
}


def _drive(trust: Trust, request: ReleaseRequest, steps: list) -> ReleaseRequest:
    for step in steps:
        if step == "withdraw":
            request = trust.airlock.withdraw("ana", request.id)
        elif step == "resubmit":
            request = trust.airlock.submit("ana", request.id)
        else:
            who, decision = step
            request = trust.airlock.review(who, request.id, _approve_all(request, decision))
    return request


def test_every_transition_is_audited_in_the_same_step(offline: Trust, make_output: MakeOutput):
    out = make_output()
    seen = set()
    for name, steps in PATHS.items():
        request = offline.airlock.request("ana", [out.id], JUSTIFICATION, submit=steps != ["withdraw"])
        request = _drive(offline, request, steps)
        moves = [(h.source, h.target) for h in offline.airlock.get("ana", request.id).history[1:]]
        events = [e for e in offline.audit.events(kind="release_transition") if e.payload["request"] == request.id]
        assert moves == [(e.payload["source"], e.payload["target"]) for e in events], name
        for e, (source, target) in zip(events, moves):
            t = BY_STATES[(S(source), S(target))]
            assert e.payload["action"] == t.action and e.payload["by"] == t.by.value
        assert moves[-1][1] == request.state.value
        seen |= {(S(a), S(b)) for a, b in moves}
    assert seen == set(BY_STATES), f"not exercised: {set(BY_STATES) - seen}"
    assert offline.audit.verify()[0]


def _in_state(trust: Trust, output_id: str, state: ReleaseState) -> ReleaseRequest:
    """A request put in ``state`` directly, to try every move from it."""
    request = trust.airlock.request("ana", [output_id], JUSTIFICATION, submit=False)
    with trust.store.database.transaction() as con:
        con.execute("UPDATE release_requests SET state = ? WHERE id = ?", (state.value, request.id))
    with trust.store.read() as tx:
        return tx.releases.get(request.id)


def test_every_illegal_transition_is_refused_and_changes_nothing(offline: Trust, make_output: MakeOutput):
    out = make_output()
    people = {"ana": offline.access.user("ana"), "carol": offline.access.user("carol"), "trust": SYSTEM}
    for source, target in itertools.product(ReleaseState, ReleaseState):
        if (source, target) in BY_STATES:
            continue
        request = _in_state(offline, out.id, source)
        before = len(offline.audit.events())
        for person in people.values():
            with pytest.raises(InvalidTransition) as refused:
                with offline.store.write() as tx:
                    set_status(tx, request, target, person, output_authors=["ana"], now="t")
            assert f"is {source}; it cannot become {target}" in refused.value.message
            assert not can_move(request, target, person)
        assert offline.airlock.get("carol", request.id).state is source
        assert len(offline.audit.events()) == before


def test_every_legal_transition_refuses_the_wrong_party(offline: Trust, make_output: MakeOutput):
    out = make_output()
    people = {
        Actor.AUTHOR: offline.access.user("ana"),
        Actor.CHECKER: offline.access.user("carol"),
        Actor.SYSTEM: SYSTEM,
    }
    bob = offline.access.user("bob")  # neither author nor checker
    for t in TRANSITIONS:
        request = _in_state(offline, out.id, t.source)
        for actor, person in [*people.items(), (None, bob)]:
            if actor is t.by:
                assert can_move(request, t.target, person)
                continue
            with pytest.raises(NotAuthorised):
                check_can_move(request, t.target, person, output_authors=["ana"])


def test_the_author_never_reviews_their_own_request(offline: Trust, make_output: MakeOutput):
    offline.access.add_user("ana", ("analyst", "output_checker"), "DWP")
    request = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    with pytest.raises(NotAuthorised, match="its author can never review it"):
        offline.airlock.review("ana", request.id, _approve_all(request))
    assert offline.airlock.get("ana", request.id).reviews == ()


def test_a_checker_who_created_an_output_cannot_review_it(offline: Trust, make_output: MakeOutput):
    theirs = make_output(user="carol")  # carol ran a query in ana's project
    request = offline.airlock.request("ana", [make_output().id, theirs.id], JUSTIFICATION)
    with pytest.raises(NotAuthorised, match="You created an output"):
        offline.airlock.review("carol", request.id, _approve_all(request))
    assert [e.request.id for e in offline.airlock.queue("carol") if not e.can_review] == [request.id]


def test_no_checker_reviews_a_round_twice_but_may_review_the_next(offline: Trust, make_output: MakeOutput):
    request = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    offline.airlock.review("carol", request.id, _approve_all(request))
    with pytest.raises(NotAuthorised, match="already reviewed"):
        offline.airlock.review("carol", request.id, _approve_all(request))
    returned = offline.airlock.review("dev", request.id, _approve_all(request, CHANGES, "Round the pay to pounds."))
    assert returned.state is S.RETURNED and returned.approvals_needed == 0
    resubmitted = offline.airlock.submit("ana", request.id)
    assert resubmitted.round == 2 and resubmitted.approvals_needed == 2
    offline.airlock.review("carol", request.id, _approve_all(request))  # a new round: carol again is fine
    assert offline.airlock.review("dev", request.id, _approve_all(request)).state is S.RELEASED


def test_only_checkers_review(offline: Trust, make_output: MakeOutput):
    request = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    with pytest.raises(NotAuthorised, match="Only output checkers"):
        offline.airlock.review("bob", request.id, _approve_all(request))
    with pytest.raises(NotAuthorised, match="Only output checkers have a review queue"):
        offline.airlock.queue("ana")


def test_reviews_stay_independent_until_the_round_is_decided(offline: Trust, make_output: MakeOutput):
    request = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    offline.airlock.review("carol", request.id, _approve_all(request, APPROVE, "Fine."))
    assert offline.airlock.get("dev", request.id).reviews == ()  # dev has not decided yet
    assert offline.airlock.get("dev", request.id).reviewers_this_round == ("carol",)
    assert offline.airlock.get("ana", request.id).reviews == ()
    assert [r.comment for r in offline.airlock.get("carol", request.id).reviews] == ["Fine."]
    offline.airlock.review("dev", request.id, _approve_all(request))
    assert {r.reviewer for r in offline.airlock.get("ana", request.id).reviews} == {"carol", "dev"}


def test_a_review_decides_every_output_and_explains_refusals(offline: Trust, make_output: MakeOutput):
    a, b = make_output(), make_output()
    request = offline.airlock.request("ana", [a.id, b.id], JUSTIFICATION)
    for decisions, message in [
        ({a.id: (APPROVE, "")}, f"missing {b.id}"),
        ({a.id: (APPROVE, ""), b.id: (APPROVE, ""), "out-x": (APPROVE, "")}, "out-x not in the request"),
        ({a.id: (APPROVE, ""), b.id: ("maybe", "")}, "approve, reject or changes"),
        ({a.id: (APPROVE, ""), b.id: (REJECT, "  ")}, "Say why you reject"),
        ({a.id: (CHANGES, ""), b.id: (APPROVE, "")}, "Say why you ask for changes"),
    ]:
        with pytest.raises(TrustError, match=message):
            offline.airlock.review("carol", request.id, decisions)
    assert offline.airlock.get("carol", request.id).reviewers_this_round == ()
    rejected = offline.airlock.review("carol", request.id, {a.id: (APPROVE, ""), b.id: (REJECT, "Too small.")})
    assert rejected.state is S.REJECTED  # any rejection stops the whole request


def test_requests_are_checked_when_made(offline: Trust, make_output: MakeOutput):
    ana_out, bob_out = make_output(), make_output(user="bob", project=OTHER_PROJECT)
    with pytest.raises(TrustError, match="at least one output"):
        offline.airlock.request("ana", [], JUSTIFICATION)
    with pytest.raises(TrustError, match="at least 20 characters"):
        offline.airlock.request("ana", [ana_out.id], "because")
    with pytest.raises(TrustError, match="outputs of one project"):
        offline.airlock.request("ana", [ana_out.id, bob_out.id], JUSTIFICATION)
    with pytest.raises(NotAuthorised, match="not a member of project demo-employment-support"):
        offline.airlock.request("bob", [ana_out.id], JUSTIFICATION)
    with pytest.raises(TrustError, match="No output 'out-nope'"):
        offline.airlock.request("ana", ["out-nope"], JUSTIFICATION)
    assert offline.airlock.list("ana") == []


def test_cells_in_review_need_the_authors_reason(offline: Trust, make_output: MakeOutput):
    out = make_output(statuses={1: "suppressed", 2: "review"})
    with pytest.raises(TrustError, match=r"cells in review without a reason \(2:claimants\)"):
        offline.airlock.request("ana", [out.id], JUSTIFICATION)
    with pytest.raises(TrustError, match="Cell 1:claimants .* is not in review"):
        offline.airlock.request("ana", [out.id], JUSTIFICATION, cell_reasons={out.id: {(1, "claimants"): "x"}})
    draft = offline.airlock.request("ana", [out.id], JUSTIFICATION, submit=False)  # a draft may wait for them
    with pytest.raises(TrustError, match="without a reason"):
        offline.airlock.submit("ana", draft.id)
    offline.airlock.edit("ana", draft.id, cell_reasons={out.id: {"2:claimants": "Refunds make it negative."}})
    submitted = offline.airlock.submit("ana", draft.id)
    assert submitted.state is S.SUBMITTED and submitted.reasons(out.id) == {"2:claimants": "Refunds make it negative."}


def test_only_the_author_edits_and_only_before_review(offline: Trust, make_output: MakeOutput):
    a, b = make_output(), make_output()
    request = offline.airlock.request("ana", [a.id, b.id], JUSTIFICATION, submit=False)
    with pytest.raises(NotAuthorised, match="Only the author"):
        offline.airlock.edit("carol", request.id, justification=JUSTIFICATION + " Edited.")
    with pytest.raises(TrustError, match="keeps the outputs"):
        offline.airlock.edit("ana", request.id, outputs=[a.id, b.id, make_output().id])
    assert offline.airlock.edit("ana", request.id, outputs=[a.id]).output_ids == [a.id]
    offline.airlock.submit("ana", request.id)
    with pytest.raises(InvalidTransition, match="only while it is a draft"):
        offline.airlock.edit("ana", request.id, justification=JUSTIFICATION + " Edited.")
    with pytest.raises(NotAuthorised, match="Only the author"):
        offline.airlock.withdraw("carol", request.id)


def test_a_retried_request_is_made_once(offline: Trust, make_output: MakeOutput):
    out = make_output()
    first = offline.airlock.request("ana", [out.id], JUSTIFICATION, key="k-1")
    again = offline.airlock.request("ana", [out.id], JUSTIFICATION, key="k-1")
    assert again.id == first.id and len(offline.airlock.list("ana")) == 1
    assert len(offline.audit.events(kind="release_created")) == 1


def test_who_sees_which_requests(offline: Trust, make_output: MakeOutput):
    mine = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    bobs = offline.airlock.request("bob", [make_output(user="bob", project=OTHER_PROJECT).id], JUSTIFICATION)
    assert [r.id for r in offline.airlock.list("ana")] == [mine.id]
    assert {r.id for r in offline.airlock.list("carol")} == {mine.id, bobs.id}
    with pytest.raises(UnknownName) as forbidden:  # answered as if it did not exist; audited all the same
        offline.airlock.get("bob", mine.id)
    assert offline.audit.events(kind="access_denied")[-1].payload["request"] == mine.id
    with pytest.raises(UnknownName) as missing:
        offline.airlock.get("bob", "rel-000000000000")
    assert forbidden.value.message.replace(mine.id, "ID") == missing.value.message.replace("rel-000000000000", "ID")


def test_two_checkers_at_once_release_exactly_once(offline: Trust, make_output: MakeOutput):
    request = offline.airlock.request("ana", [make_output().id], JUSTIFICATION)
    offline.access.add_user("erin", ("output_checker",), "ONS")
    offline.airlock.review("carol", request.id, _approve_all(request))
    results: list[object] = []

    def review(who: str) -> None:
        try:
            results.append(Trust.open(offline.config.home).airlock.review(who, request.id, _approve_all(request)))
        except TrustError as exc:
            results.append(exc)

    threads = [threading.Thread(target=review, args=(who,)) for who in ("dev", "erin")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(isinstance(r, InvalidTransition) for r in results) == 1
    final = offline.airlock.get("ana", request.id)
    assert final.state is S.RELEASED
    actions = [
        e.payload["action"]
        for e in offline.audit.events(kind="release_transition")
        if e.payload["request"] == request.id
    ]
    assert actions == ["submit", "review", "approve", "release"]
