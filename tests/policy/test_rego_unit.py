"""The policy owners' Rego unit tests (*_test.rego), run by trust.policy.testing as `trust policy test` does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trust.config import REPO_ROOT
from trust.policy.testing import find_tests, report, run_tests

POLICIES = REPO_ROOT / "policies"


@pytest.fixture(scope="module")
def results():
    return run_tests(POLICIES)


def test_every_rego_unit_test_passes(results):
    failed = [r.line() for r in results if r.status != "pass"]
    assert failed == [], "\n".join(failed)
    assert len(results) >= 40


def test_each_module_has_its_own_tests():
    files = {t.file for t in find_tests(POLICIES)}
    for module in (
        "trust_test.rego",
        "common/trust_test.rego",
        "departments/dwp_test.rego",
        "departments/hmrc_test.rego",
        "departments/dfe_test.rego",
        "departments/desnz_test.rego",
    ):
        assert module in files


def test_report_lists_each_test_and_a_summary(results):
    text = report(results, verbose=True)
    assert "data.tests.departments.dwp.test_special_category_needs_an_approved_purpose: PASS" in text
    assert text.splitlines()[-1] == f"PASS: {len(results)}/{len(results)}"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


def test_a_broken_rule_makes_its_tests_fail(policies):
    dwp = policies / "departments" / "dwp.rego"
    dwp.write_text(
        dwp.read_text().replace(
            'lib.text(["NOT ", settings.opt_out_columns[t.dataset]])',
            'lib.text(["", settings.opt_out_columns[t.dataset]])',
        )
    )
    results = {r.test.name: r for r in run_tests(policies, pattern=r"\.dwp\.")}
    assert results["test_opted_out_people_are_filtered_out"].status == "fail"
    assert "dwp_test.rego:" in results["test_opted_out_people_are_filtered_out"].detail
    assert results["test_special_category_needs_an_approved_purpose"].status == "pass"


def test_a_syntax_error_in_a_test_file_is_reported_with_file_and_line(policies):
    test = policies / "departments" / "desnz_test.rego"
    test.write_text(test.read_text() + "\ntest_broken if {\n\tinput.x ==\n}\n")
    results = run_tests(policies, pattern=r"\.desnz\.")
    assert results and all(r.status == "error" for r in results)
    assert "departments/desnz_test.rego:" in results[0].detail


def test_todo_tests_are_skipped_and_patterns_select(policies):
    test = policies / "departments" / "desnz_test.rego"
    test.write_text(test.read_text() + "\ntodo_test_later if {\n\tfalse\n}\n")
    results = run_tests(policies, pattern=r"desnz\.(todo_)?test_(later|fine)")
    assert {r.test.name: r.status for r in results} == {
        "test_fine_industry_by_area_is_denied": "pass",
        "todo_test_later": "skip",
    }
