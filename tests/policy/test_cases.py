"""The policy cases in tests/policy/cases/*.yaml (input -> expected decision), on the embedded evaluator."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust.catalog import load_catalog
from trust.config import REPO_ROOT
from trust.policy.cases import Case, all_cases
from trust.policy.embedded import policy_data

CASES = all_cases(
    Path(__file__).parent / "cases",
    load_catalog(REPO_ROOT / "catalog"),
    policy_data(REPO_ROOT / "policies")["projects"],
)


def test_there_are_enough_cases_and_each_module_has_some():
    assert len(CASES) >= 40
    files = {c.id.split(":")[0] for c in CASES}
    assert {"common", "areas", "dwp", "hmrc", "dfe", "desnz", "composition"} <= files
    assert sum(1 for c in CASES if not c.expect["allow"]) >= 20
    assert len({c.id for c in CASES}) == len(CASES), "case names must be unique within a file"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, embedded):
    decision = embedded.decide(case.document)
    assert case.mismatches(decision) == []


def test_a_wrong_expectation_is_caught(embedded):
    # The runner must be able to fail: flip one case's expectations.
    case = next(c for c in CASES if c.name == "a Strategic Authority analyst sees only its ten districts")
    wrong = Case(
        case.file, case.name, case.document, {"allow": True, "row_filters": {"dwp.uc_claims": ["NOT opted_out"]}}
    )
    assert wrong.mismatches(embedded.decide(case.document))
    denied = Case(case.file, case.name, case.document, {"allow": False, "deny": ["trust.not_a_member"]})
    assert len(denied.mismatches(embedded.decide(case.document))) == 2
