"""`trust policy check`: the real policy is clean, and each kind of mistake is found at its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trust.config import REPO_ROOT
from trust.policy.check import check_policies

POLICIES = REPO_ROOT / "policies"


def test_the_policy_in_the_repository_is_clean(registrations):
    problems = check_policies(POLICIES, registrations)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert [str(p) for p in problems] == []


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    text = path.read_text()
    return text.count("\n", 0, text.index(needle)) + 1


MISTAKES = [
    # (file, old, new, where the problem must be reported (a line containing this), words in the message)
    (
        "common/trust.rego",
        'input.context.date > object.get(project, "expires", "")',
        'input.context.date >> object.get(project, "expires", "")',
        "input.context.date >>",
        "syntax",
    ),
    (
        "departments/dfe_test.rego",
        "test_gateway_naming_dfe_is_accepted if {",
        "test_gateway_naming_dfe_is_accepted if {{",
        "test_gateway_naming_dfe_is_accepted",
        "syntax",
    ),
    ("data/projects.json", '"expires": "2027-09-30"', '"expires": "2027-13-30"', "2027-13-30", "is not a date"),
    # A missing comma is found where the next item starts.
    (
        "data/projects.json",
        '"members": ["bob"],',
        '"members": ["bob"]',
        '"expires": "2027-03-31"\n  },\n  "demo-health',
        "invalid JSON",
    ),
    (
        "data/projects.json",
        '"datasets": ["dwp.uc_claims"],\n    "columns"',
        '"datasets": ["dwp.uc_claim"],\n    "columns"',
        'dwp.uc_claim"]',
        "Did you mean 'dwp.uc_claims'",
    ),
    ("data/projects.json", '"region", "claim_start"', '"regoin", "claim_start"', '"regoin"', "no column 'regoin'"),
    (
        "data/organisations.json",
        '"areas": ["E08000003"]',
        '"areas": ["E08000003", "Manchester"]',
        '"Manchester"]',
        "not an ONS area code",
    ),
    (
        "data/departments.json",
        '"gross_pay": 20000',
        '"gross_pay": 20000.5',
        '"gross_pay": 20000.5',
        "positive whole number",
    ),
    (
        "data/departments.json",
        '"opt_out_exempt": {"dwp.pip_awards"',
        '"opt_out_exempt_": {"dwp.pip_awards"',
        '"DWP": {',
        "dwp.pip_awards has no opt-out declaration",
    ),
    ("data/disclosure.json", '"min_units": 20}', '"min_units": 0}', '"min_units": 0}', "out of range"),
    (
        "data/disclosure.json",
        '"small_values": 0',
        '"small_values": 10',
        '"small_values": 10',
        "small_values 10 must be less than max_deviation 10",
    ),
    (
        "departments/dwp.rego",
        'lib.text(["NOT ", settings',
        'lib.text(["NOT nope_", settings',
        '"dwp.opt_out"',
        "dwp.opt_out gives dwp.uc_claims a row filter the trust cannot apply",
    ),
    (
        "departments/hmrc.rego",
        '" THEN ", format_int(cap, 10), ".0 ELSE "',
        '" THEN (SELECT 1) ELSE "',
        '"hmrc.top_code"',
        "hmrc.top_code gives hmrc.paye_employments a column mask the trust cannot apply",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "at", "words"), MISTAKES, ids=[m[4][:30] for m in MISTAKES])
def test_each_mistake_is_reported_at_its_place(policies, registrations, file, old, new, at, words):
    edit(policies / file, old, new)
    errors = [p for p in check_policies(policies, registrations) if p.severity == "error"]
    matching = [p for p in errors if words in p.message]
    assert matching, [str(p) for p in errors]
    problem = matching[0]
    assert problem.file.endswith(file)
    assert problem.line == line_of(policies / file, at), str(problem)
    assert str(problem).startswith(f"{problem.file}:{problem.line}:{problem.column}: error: ")


def test_a_department_module_left_out_of_the_composition_is_an_error(policies, registrations):
    (policies / "departments" / "ons.rego").write_text(
        "# A new department.\npackage trust.departments.ons\n\nimport rego.v1\n\ndeny := set()\n"
    )
    errors = [p for p in check_policies(policies, registrations) if p.severity == "error"]
    assert [(p.file.rsplit("/", 2)[-2:], p.line) for p in errors] == [(["departments", "ons.rego"], 2)]
    assert "is not composed into the decision" in errors[0].message and "its rules are ignored" in errors[0].message


def test_regopy_pitfalls_are_warned_about(policies, registrations):
    edit(
        policies / "departments/desnz.rego",
        'lib.text([t.dataset, ": "',
        'sprintf("%s: %s", [t.dataset, "x"]), lib.text([t.dataset, ": "',
    )
    test = policies / "departments/desnz_test.rego"
    test.write_text(
        test.read_text() + "\ntest_whole_input if {\n\td := data.trust.decision with input as {}\n\tnot d.allow\n}\n"
    )
    warnings = [p for p in check_policies(policies, registrations) if p.severity == "warning"]
    assert {p.file.rsplit("/", 1)[-1] for p in warnings} == {"desnz.rego", "desnz_test.rego"}


def test_thresholds_the_trust_works_out_differently_from_the_policy_are_an_error(policies, registrations):
    # `disclosure` changed in trust.rego but not in trust/policy/thresholds.py: the embedded evaluator,
    # which works the thresholds out in Python, would no longer decide what the policy says.
    trust_rego = policies / "trust.rego"
    edit(trust_rego, '"rounding_base": max([s.rounding_base | some s in full]),', '"rounding_base": 5,')
    errors = [p for p in check_policies(policies, registrations) if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in errors]
    assert errors[0].line == line_of(trust_rego, "partial_decision :=")
    assert "data.trust.decision decides" in errors[0].message and "thresholds.py" in errors[0].message
