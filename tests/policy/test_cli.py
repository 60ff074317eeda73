"""`trust policy test | explain | check` as a policy owner runs them: real processes, real servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trust.config import REPO_ROOT
from trust.errors import QueryRejected

PREFIX = [sys.executable, "-m", "trust.cli", "policy"]


def explain(trust, user, project, sql, *, offline=False):
    return trust.queries.explain(user, project, sql, offline=offline)


def run(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRUST_HOME": str(home)}
    return subprocess.run([*PREFIX, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO_ROOT)


def test_check_passes_on_the_repository_policy(trust_home):
    r = run("check", home=trust_home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith(": ok")


def test_check_reports_a_syntax_error_with_file_and_line(trust_home, tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    dfe = policies / "departments" / "dfe.rego"
    lines = dfe.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "not names_dfe" in line)
    lines[at] = "\tnot names_dfe ==="
    dfe.write_text("\n".join(lines) + "\n")
    r = run("check", "--dir", str(policies), home=trust_home)
    assert r.returncode == 1
    assert f"policies/departments/dfe.rego:{at + 1}:" in r.stdout and ": error: syntax" in r.stdout
    assert "1 error(s)" in r.stdout


def test_test_reports_each_test_and_fails_when_one_fails(trust_home, tmp_path):
    r = run("test", "--run", r"\.desnz\.", "-v", home=trust_home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "data.tests.departments.desnz.test_fine_industry_by_area_is_denied: PASS" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "PASS: 4/4"

    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    desnz = policies / "departments" / "desnz.rego"
    desnz.write_text(desnz.read_text().replace("count(area) > 0", "count(area) > 5"))
    r = run("test", "--dir", str(policies), "--run", r"\.desnz\.", home=trust_home)
    assert r.returncode == 1
    assert "test_fine_industry_by_area_is_denied: FAIL" in r.stdout and "FAIL: 1/4" in r.stdout


def test_explain_shows_input_decision_rules_and_obligations(trust, trust_home):
    sql = "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region"
    r = run("explain", "--user", "bob", "--project", "demo-dwp-caseload", "--offline", sql, home=trust_home)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for text in (
        '"organisation": "Greater Manchester Combined Authority"',
        "Decision: ALLOW",
        "Rules that fired:",
        "row_filter   trust.own_areas",
        "row_filter   dwp.opt_out",
        "column_mask  dwp.date_of_birth_year",
        "disclosure   disclosure.defaults",
        "at least 10 units per cell",
    ):
        assert text in out, text


def test_explain_of_a_denial_names_the_rule_and_the_remedy(trust, trust_home):
    sql = "SELECT health_condition_group, count(*) AS n FROM dwp.pip_awards GROUP BY 1"
    r = run(
        "explain",
        "--user",
        "ana",
        "--project",
        "demo-disability-employment",
        "--offline",
        "--json",
        sql,
        home=trust_home,
    )
    assert r.returncode == 1
    body = json.loads(r.stdout)
    assert body["decision"]["allow"] is False
    [deny] = body["decision"]["deny"]
    assert deny["rule"] == "dwp.special_category" and "health_and_disability_research" in deny["remedy"]
    assert body["input"]["query"]["columns"][0]["flags"] == ["special_category"]


def test_explain_an_input_document(trust, trust_home, tmp_path):
    document = {
        "identity": {"user": "ana", "roles": ["analyst"], "organisation": "DWP"},
        "project": {"id": "demo-uc-pilot-2024"},
        "context": {"date": "2026-01-01"},
        "query": {"tables": [], "columns": [], "aggregates": [], "joins": [], "aggregated_output": True},
    }
    (tmp_path / "input.json").write_text(json.dumps(document))
    r = run("explain", "--input", str(tmp_path / "input.json"), home=trust_home)
    assert r.returncode == 1
    assert (
        "deny         trust.project_expired" in r.stdout
        and "to fix: To renew the approval, apply to amend the project" in r.stdout
    )


def test_explain_online_shows_the_sql_with_the_obligations_in_every_leaf(trust):
    sql = (
        "WITH c AS (SELECT person_id, la_code FROM dwp.uc_claims) SELECT a.la_code, count(*) AS n FROM c AS a "
        "JOIN dwp.uc_claims AS b ON a.person_id = b.person_id GROUP BY a.la_code"
    )
    result = explain(trust, "bob", "demo-dwp-caseload", sql)
    assert result.decision.allow and result.sql
    assert result.sql.count("la_code IN ('E08000001'") == 2 and result.sql.count("NOT opted_out") == 2
    assert "SQL the trust would run:" in result.render()


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("SELECT nino, count(*) AS n FROM dwp.uc_claims GROUP BY nino", "direct_identifier"),
        ("SELECT region, award_amount FROM dwp.uc_claims", "measure_not_aggregated"),
    ],
)
def test_explain_reports_a_structural_rejection(trust, sql, rule):
    # The SQL stages may refuse before the policy is asked (then explain says so), or the
    # structural check after describing it does (then explain notes it and still shows the decision).
    try:
        result = explain(trust, "ana", "demo-employment-support", sql, offline=True)
    except QueryRejected as exc:
        assert exc.rule == rule
        return
    assert any("structural rule" in n and rule in n for n in result.notes)
    assert result.sql is None


def test_policy_commands_are_part_of_the_trust_command(trust_home):
    r = subprocess.run(
        [sys.executable, "-m", "trust.cli", "policy", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "TRUST_HOME": str(trust_home)},
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert r.returncode == 0 and all(c in r.stdout for c in ("test", "explain", "diff", "check"))


def test_explain_lists_every_mask_a_rule_makes(trust):
    sql = (
        "SELECT u.region, sum(p.gross_pay) AS pay FROM dwp.uc_claims AS u "
        "JOIN hmrc.paye_employments AS p ON u.person_id = p.person_id GROUP BY u.region"
    )
    text = explain(trust, "ana", "demo-employment-support", sql, offline=True).render()
    assert "hmrc.top_code  on hmrc.paye_employments: gross_pay := CASE WHEN gross_pay > 20000" in text
    assert "hmrc.top_code  on hmrc.paye_employments: tax_paid := CASE WHEN tax_paid > 8000" in text
