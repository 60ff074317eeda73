"""Assessing data-sharing applications with the policy (trust.policy.applications), through ``assess``."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from trust.catalog import Catalog
from trust.config import REPO_ROOT
from trust.policy.applications import POLICY_ERROR, Assessment, assess, gateways, purposes

POLICIES = REPO_ROOT / "policies"


def column(name: str, role: str = "dimension", *flags: str, reason: str = "Needed for the tables.") -> dict[str, Any]:
    return {"name": name, "role": role, "flags": list(flags), "reason": reason}


def dataset(id: str, department: str, *columns: dict[str, Any], flags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": id, "department": department, "flags": list(flags), "columns": list(columns)}


UC = dataset("dwp.uc_claims", "DWP", column("person_id", "linkage_key"), column("sex"), column("region"))
PIP = dataset(
    "dwp.pip_awards",
    "DWP",
    column("person_id", "linkage_key"),
    column("health_condition_group", "dimension", "special_category"),
    flags=("special_category",),
)
PAYE = dataset("hmrc.paye_employments", "HMRC", column("person_id", "linkage_key"), column("tax_year"))
LEARNERS = dataset("dfe.learners", "DfE", column("person_id", "linkage_key"), column("qualification_level"))
BUSINESSES = dataset("desnz.businesses", "DESNZ", column("employer_id", "linkage_key"), column("size_band"))

GOOD: dict[str, Any] = {
    "id": "app-0001",
    "title": "Employment support for Universal Credit claimants",
    "applicant": {"name": "Ana Analyst", "organisation": "DWP", "roles": ["analyst", "accredited_researcher"]},
    "sponsor": "DWP",
    "purpose": "employment_support",
    "legal_gateway": "dea-2017-s64-research",
    "datasets": [UC],
    "members": ["ana"],
    "outputs": "Employment rates by region.",
    "expires": "2027-03-31",
    "dpia": "DPIA-2026-014",
    "today": "2026-06-01",
}


def application(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GOOD), **changes}


def rules(findings) -> set[str]:
    return {f.rule for f in findings}


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    copied = tmp_path / "policies"
    shutil.copytree(POLICIES, copied)
    return copied


def test_a_good_application_has_no_blockers_or_warnings():
    result = assess(POLICIES, GOOD)
    assert result == Assessment(blockers=(), warnings=())
    assert result.approvable


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"purpose": "curiosity"}, "applications.purpose_unknown"),
        ({"legal_gateway": "dea-2017"}, "applications.gateway_unknown"),
        ({"purpose": "debt"}, "applications.gateway_purpose"),
        ({"members": []}, "applications.no_members"),
        ({"datasets": []}, "applications.no_datasets"),
        ({"expires": "2027-02-30"}, "applications.expiry_invalid"),
        ({"expires": "2026-05-01"}, "applications.expired"),
        ({"expires": "2029-06-02"}, "applications.expiry_beyond_gateway"),
        ({"dpia": " "}, "applications.dpia"),
        (
            {"applicant": {"name": "Bo", "organisation": "DWP", "roles": ["analyst"]}},
            "applications.accredited_researcher",
        ),
    ],
)
def test_each_blocker_fires_alone_for_its_case(changes, rule):
    result = assess(POLICIES, application(**changes))
    assert rules(result.blockers) == {rule}
    assert not result.approvable


@pytest.mark.parametrize(
    ("gateway", "purpose", "data", "department", "message"),
    [
        (
            "crca-2005-s18-hmrc",
            "operational_research",
            UC,
            "DWP",
            "DWP data needs a gateway that covers DWP for this purpose; HMRC disclosure for its own functions "
            "does not. Gateways that do: ssaa-1992-dwp-internal.",
        ),
        (
            "ssaa-1992-dwp-internal",
            "operational_research",
            PAYE,
            "HMRC",
            "HMRC data needs a gateway that covers HMRC for this purpose; DWP's own use of social security "
            "information does not. Gateways that do: crca-2005-s18-hmrc.",
        ),
        (
            "sbee-2015-desnz",
            "statistics",
            LEARNERS,
            "DfE",
            "DfE data needs a gateway that covers DfE for this purpose; Small Business, Enterprise and Employment "
            "Act 2015 business information does not. Gateways that do: ea-1996-s537a-pupils or esa-2008-s87-dfe "
            "or srsa-2007-s45a-statistics.",
        ),
        (
            "esa-2008-s87-dfe",
            "statistics",
            BUSINESSES,
            "DESNZ",
            "DESNZ data needs a gateway that covers DESNZ for this purpose; Education and Skills Act 2008 data "
            "sharing with DfE does not. Gateways that do: sbee-2015-desnz or srsa-2007-s45a-statistics.",
        ),
    ],
)
def test_each_department_needs_a_gateway_that_covers_it(gateway, purpose, data, department, message):
    result = assess(POLICIES, application(legal_gateway=gateway, purpose=purpose, datasets=[data]))
    assert [(f.rule, f.department, f.message) for f in result.blockers] == [
        ("applications.gateway_department", department, message)
    ]


@pytest.mark.parametrize(
    ("gateway", "purpose", "data"),
    [
        ("ssaa-1992-dwp-internal", "operational_research", UC),
        ("crca-2005-s18-hmrc", "operational_research", PAYE),
        ("esa-2008-s87-dfe", "skills_research", LEARNERS),
        ("sbee-2015-desnz", "employment_support", BUSINESSES),
    ],
)
def test_each_departments_own_gateway_has_no_blockers(gateway, purpose, data):
    assert assess(POLICIES, application(legal_gateway=gateway, purpose=purpose, datasets=[data])).blockers == ()


def test_a_direct_identifier_cannot_be_requested():
    uc = dataset("dwp.uc_claims", "DWP", column("person_id", "linkage_key"), column("nino", "direct_identifier"))
    (blocker,) = assess(POLICIES, application(datasets=[uc])).blockers
    assert (blocker.rule, blocker.department, blocker.dataset, blocker.column) == (
        "applications.direct_identifier",
        "DWP",
        "dwp.uc_claims",
        "nino",
    )
    assert blocker.message.startswith("`nino` is a direct identifier and cannot be requested.")


def test_a_column_without_a_reason_is_blocked():
    uc = dataset("dwp.uc_claims", "DWP", column("person_id", "linkage_key"), column("tenure", reason=""))
    result = assess(POLICIES, application(datasets=[uc]))
    assert [(f.rule, f.column) for f in result.blockers] == [("applications.column_reason", "tenure")]


def test_dwp_special_category_data_only_for_dwps_purposes():
    refused = assess(POLICIES, application(datasets=[PIP]))
    assert [(f.rule, f.dataset) for f in refused.blockers] == [("applications.dwp_special_category", "dwp.pip_awards")]
    assert "health_and_disability_research" in refused.blockers[0].message
    allowed = assess(POLICIES, application(datasets=[PIP], purpose="health_and_disability_research"))
    assert allowed.blockers == ()


def test_special_category_data_needs_a_dpia_even_when_the_gateway_does_not(policies):
    register = json.loads((policies / "data" / "gateways.json").read_text())
    register["dea-2017-s64-research"]["requires_dpia"] = False
    (policies / "data" / "gateways.json").write_text(json.dumps(register))
    assert assess(policies, application(dpia="")).blockers == ()
    result = assess(policies, application(dpia="", datasets=[PIP], purpose="health_and_disability_research"))
    assert rules(result.blockers) == {"applications.dpia"}
    assert "special category data (dwp.pip_awards)" in result.blockers[0].message


def test_hmrc_data_only_under_legislation_that_permits_it(policies):
    # A mistake in the register (HMRC listed under DWP's own gateway) does not open HMRC data.
    register = json.loads((policies / "data" / "gateways.json").read_text())
    register["ssaa-1992-dwp-internal"]["departments"] = ["DWP", "HMRC"]
    (policies / "data" / "gateways.json").write_text(json.dumps(register))
    result = assess(
        policies, application(legal_gateway="ssaa-1992-dwp-internal", purpose="operational_research", datasets=[PAYE])
    )
    assert [(f.rule, f.department) for f in result.blockers] == [("applications.hmrc_gateway", "HMRC")]


def test_dfe_learner_data_is_outside_the_pupil_gateway():
    result = assess(
        POLICIES, application(legal_gateway="ea-1996-s537a-pupils", purpose="skills_research", datasets=[LEARNERS])
    )
    assert [(f.rule, f.dataset) for f in result.blockers] == [("applications.gateway_data", "dfe.learners")]


def test_desnz_business_data_is_checked_at_business_level():
    b = dataset("desnz.businesses", "DESNZ", column("employer_id", "linkage_key"), column("sic2007"), column("la_code"))
    result = assess(POLICIES, application(legal_gateway="sbee-2015-desnz", datasets=[b]))
    assert result.blockers == ()
    assert rules(result.warnings) == {"applications.desnz_business_level", "applications.desnz_industry_by_area"}


def test_warnings_for_linking_and_an_expiry_within_30_days():
    result = assess(POLICIES, application(datasets=[UC, PAYE], expires="2026-06-30"))
    assert result.blockers == ()
    assert rules(result.warnings) == {"applications.linkage", "applications.expiry_soon"}
    (linkage,) = [f for f in result.warnings if f.rule == "applications.linkage"]
    assert "link DWP and HMRC data" in linkage.message


def test_every_message_is_one_line_ending_in_a_full_stop():
    bad = application(
        purpose="curiosity",
        legal_gateway="nope",
        members=[],
        expires="",
        dpia="",
        datasets=[UC, PIP, dataset("hmrc.paye_employments", "HMRC", column("submission_id", "direct_identifier"))],
    )
    result = assess(POLICIES, bad)
    assert len(result.blockers) >= 6
    for f in result.blockers + result.warnings:
        assert "\n" not in f.message and f.message.endswith("."), f


def test_a_policy_that_does_not_compile_fails_closed(policies):
    module = policies / "applications" / "applications.rego"
    module.write_text(
        module.read_text().replace("blockers contains app.finding(", "blockers contains app.finding((", 1)
    )
    result = assess(policies, GOOD)
    assert [f.rule for f in result.blockers] == [POLICY_ERROR]
    assert "could not assess the application" in result.blockers[0].message
    assert not result.approvable


def test_a_policy_without_the_rules_fails_closed(policies):
    shutil.rmtree(policies / "applications")
    assert [f.rule for f in assess(policies, GOOD).blockers] == [POLICY_ERROR]


def test_an_answer_of_the_wrong_shape_fails_closed(policies):
    module = policies / "applications" / "applications.rego"
    source = module.read_text()
    start = source.index("\nassessment := {") + 1
    end = source.index("\n}\n", start) + 3
    module.write_text(source[:start] + 'assessment := {"blockers": "none", "warnings": []}\n' + source[end:])
    assert [f.rule for f in assess(policies, GOOD).blockers] == [POLICY_ERROR]


def test_a_changed_policy_is_used_without_a_restart(policies):
    assert assess(policies, GOOD).blockers == ()
    purposes_file = policies / "data" / "purposes.json"
    listed = json.loads(purposes_file.read_text())
    del listed["employment_support"]
    purposes_file.write_text(json.dumps(listed, indent=2) + "\n")
    assert "applications.purpose_unknown" in rules(assess(policies, GOOD).blockers)


def test_the_register_names_real_departments_purposes_and_datasets(registrations: Catalog):
    register = gateways(POLICIES)
    listed = purposes(POLICIES)
    departments = {ds.department for ds in registrations.datasets.values()}
    assert register and listed
    for gateway in register.values():
        assert gateway.name and gateway.citation and gateway.notes, gateway.id
        assert set(gateway.departments) <= departments, gateway.id
        assert set(gateway.purposes) <= set(listed), gateway.id
        assert gateway.data == "all" or set(gateway.data) <= set(registrations.datasets), gateway.id
        assert gateway.max_years >= 1, gateway.id
    assert departments == {d for g in register.values() for d in g.departments}


def test_every_purpose_a_project_uses_is_in_the_controlled_list():
    projects = json.loads((POLICIES / "data" / "projects.json").read_text())
    assert {p["purpose"] for p in projects.values()} <= set(purposes(POLICIES))
