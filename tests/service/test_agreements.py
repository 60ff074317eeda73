"""Applications to agreements, through the service with the real policy and the real departments: guidance that
blocks a bad application, each department's approval with conditions, the agreement in force at once (no
file edited, no restart), an amendment, expiry, the register, and who may decide."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from trust.errors import InvalidTransition, NotAuthorised, PolicyDenied, TrustError, UnknownName
from trust.service import Trust

REASONS = {
    "dwp.uc_claims": {
        "person_id": "To link claims to PAYE employments.",
        "region": "Outputs are by region.",
        "award_amount": "Mean award of claimants in work.",
    },
    "hmrc.paye_employments": {
        "person_id": "To link employments to claims.",
        "gross_pay": "Pay of claimants in work.",
        "tax_year": "The year of the evaluation.",
    },
}
GOOD = {
    "project": "uc-in-work",
    "title": "Universal Credit claimants in work, by region",
    "purpose": "employment_support",
    "legal_gateway": "dea-2017-s64-research",
    "sponsor": "DWP",
    "datasets": REASONS,
    "members": ["ana"],
    "outputs": "Counts and mean pay of claimants in work by region, for the evaluation report.",
    "expires": "2027-09-30",
    "dpia": "DPIA-2026-114",
}
QUERY = "SELECT u.region, count(*) AS claims FROM dwp.uc_claims u GROUP BY u.region ORDER BY u.region"


@pytest.fixture
def owners(trust: Trust) -> Trust:
    trust.access.add_user("dora", ("data_owner",), "DWP")
    trust.access.add_user("hugh", ("data_owner",), "HMRC")
    trust.access.add_user("fay", ("data_owner",), "DfE")
    trust.access.add_user("ana", ("analyst", "accredited_researcher"), "DWP")  # the DEA research power asks for it
    return trust


def _messages(view) -> list[str]:
    return [b.message for b in view.assessment.blockers]


def test_an_application_becomes_an_agreement_the_trust_uses_at_once(owners: Trust):
    t = owners
    bad = {
        **GOOD,
        "legal_gateway": "ssaa-1992-dwp-internal",
        "datasets": {**REASONS, "dwp.uc_claims": {**REASONS["dwp.uc_claims"], "nino": "To check identities."}},
    }
    draft = t.agreements.draft("ana", bad)
    found = " ".join(_messages(draft))
    assert "HMRC" in found and "nino" in found and "direct identifier" in found
    with pytest.raises(TrustError, match="cannot be submitted yet"):
        t.agreements.submit("ana", draft.id)

    fixed = t.agreements.draft("ana", GOOD, application_id=draft.id)
    assert _messages(fixed) == [] and fixed.state == "draft"
    submitted = t.agreements.submit("ana", draft.id)
    assert submitted.state == "submitted" and submitted.departments == ("DWP", "HMRC")
    assert dict(submitted.waiting_for) == {"DWP": 1, "HMRC": 1}

    with pytest.raises(UnknownName):  # DfE's data is not asked for: to its data owner the application does not exist
        t.agreements.decide("fay", draft.id, "approve")
    with pytest.raises(UnknownName, match="No project 'uc-in-work'"):  # no agreement yet: no project
        t.session("ana", "uc-in-work")
    one = t.agreements.decide(
        "dora",
        draft.id,
        "approve",
        conditions={"row_filters": [{"dataset": "dwp.uc_claims", "expression": "region = 'E12000002'"}]},
    )
    assert one.state == "submitted" and dict(one.waiting_for) == {"DWP": 0, "HMRC": 1}
    done = t.agreements.decide("hugh", draft.id, "approve", conditions={"disclosure": {"min_units": 20}})
    assert done.state == "approved" and done.agreement_version == 1

    out = t.session("ana", "uc-in-work").sql(QUERY)  # the condition applies: DWP's row filter
    assert [r[0] for r in out.rows()] == ["E12000002"]
    assert out.report.parameters.min_units == 10  # HMRC's stricter threshold applies only with HMRC data
    plain = t.session("ana", "uc-in-work").sql(
        "SELECT p.tax_year, count(*) AS n FROM hmrc.paye_employments p GROUP BY 1"
    )
    assert plain.report.parameters.min_units == 20
    register = t.agreements.register()
    assert [(e.project, e.departments, e.shared_with, e.expires) for e in register] == [
        ("uc-in-work", ("DWP", "HMRC"), ("DWP",), "2027-09-30")
    ]
    assert "ana" not in json.dumps([e.to_json() for e in register])  # organisations, never people
    kinds = [e.kind for e in t.audit.events() if e.payload.get("application") == draft.id]
    assert kinds == [
        "application_drafted",
        "application_changed",
        "application_submitted",
        "application_decided",
        "application_decided",
        "agreement_made",
        "application_closed",
    ]


def test_an_amendment_adds_a_member_and_expiry_stops_queries(owners: Trust):
    t = owners
    t.agreements.today = lambda: "2026-10-01"  # the application was made two months ago
    first = t.agreements.draft("ana", {**GOOD, "expires": "2026-12-01"})
    t.agreements.submit("ana", first.id)
    t.agreements.decide("dora", first.id, "approve")
    t.agreements.decide("hugh", first.id, "approve")
    with pytest.raises(PolicyDenied, match="expired on 2026-12-01") as denied:
        t.session("ana", "uc-in-work").sql(QUERY)
    assert "trust apply --amends uc-in-work" in denied.value.denials[0]["remedy"]

    t.agreements.today = lambda: "2026-12-03"
    amendment = t.agreements.draft("ana", {**GOOD, "members": ["ana", "bob"], "amends": True})
    t.agreements.submit("ana", amendment.id)
    with pytest.raises(NotAuthorised):  # nobody decides on their own application
        t.agreements.decide("ana", amendment.id, "approve")
    t.agreements.decide("dora", amendment.id, "approve")
    assert t.agreements.decide("hugh", amendment.id, "approve").agreement_version == 2
    assert t.session("bob", "uc-in-work").sql(QUERY).table.num_rows > 0
    history = t.agreements.history("dora", "uc-in-work")
    assert [h["version"] for h in history] == [1, 2]
    assert (
        "members: added bob" in history[1]["changes"]
        and "expires: '2026-12-01' -> '2027-09-30'" in history[1]["changes"]
    )


def test_a_rejection_closes_the_application_and_conditions_are_checked(owners: Trust):
    t = owners
    app = t.agreements.draft("ana", GOOD)
    t.agreements.submit("ana", app.id)
    with pytest.raises(TrustError, match="row filter"):
        t.agreements.decide(
            "dora",
            app.id,
            "approve",
            conditions={"row_filters": [{"dataset": "dwp.uc_claims", "expression": "region IN (SELECT 1)"}]},
        )
    with pytest.raises(TrustError, match="no column"):
        t.agreements.decide(
            "dora",
            app.id,
            "approve",
            conditions={"row_filters": [{"dataset": "dwp.uc_claims", "expression": "salary > 1"}]},
        )
    with pytest.raises(TrustError, match="may only be raised"):
        t.agreements.decide("hugh", app.id, "approve", conditions={"disclosure": {"min_units": 3}})
    with pytest.raises(TrustError, match="own datasets"):
        t.agreements.decide("hugh", app.id, "approve", conditions={"columns": {"dwp.uc_claims": ["region"]}})
    with pytest.raises(TrustError, match="Say why"):
        t.agreements.decide("dora", app.id, "reject")
    assert (
        t.agreements.decide("dora", app.id, "reject", note="Use the s.35 gateway for this purpose.").state == "rejected"
    )
    with pytest.raises(InvalidTransition):
        t.agreements.decide("hugh", app.id, "approve")
    with pytest.raises(UnknownName):  # bob is not on it, nor a data owner
        t.agreements.get("bob", app.id)
    assert t.agreements.register() == []


def test_a_department_can_require_two_approvers(owners: Trust, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from shutil import copytree

    policies = copytree(Path(owners.config.policies_dir), tmp_path / "policies")
    departments = json.loads((policies / "data" / "departments.json").read_text())
    departments["HMRC"]["approvals_required"] = 2
    (policies / "data" / "departments.json").write_text(json.dumps(departments))
    monkeypatch.setenv("TRUST_POLICIES_DIR", str(policies))
    t = Trust.open(Path(owners.config.home))
    t.access.add_user("hana", ("data_owner",), "HMRC")
    app = t.agreements.draft("ana", GOOD)
    t.agreements.submit("ana", app.id)
    t.agreements.decide("dora", app.id, "approve")
    assert dict(t.agreements.decide("hugh", app.id, "approve").waiting_for) == {"DWP": 0, "HMRC": 1}
    with pytest.raises(InvalidTransition, match="already decided"):
        t.agreements.decide("hugh", app.id, "approve")
    assert t.agreements.decide("hana", app.id, "approve").state == "approved"
    assert dataclasses.asdict(t.agreements.get("ana", app.id).decisions[0])["department"] == "DWP"
