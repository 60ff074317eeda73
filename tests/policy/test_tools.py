"""The policy owners' tools as they run them: coverage, failing-test traces, compile errors once,
rule locations in explain, and `trust policy diff` over a real audit log. The CLI runs as a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trust.config import REPO_ROOT
from trust.errors import PolicyDenied

PREFIX = [sys.executable, "-m", "trust.cli", "policy"]


def run(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRUST_HOME": str(home)}
    return subprocess.run([*PREFIX, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO_ROOT)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", copy)
    return copy


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# -- coverage ----------------------------------------------------------------------------------------


def test_coverage_lists_each_file_with_a_percentage_and_the_lines_no_test_reaches(trust_home, policies):
    dwp = policies / "departments" / "dwp.rego"
    dwp.write_text(
        dwp.read_text()
        + "\nunreached_by_tests if {\n\tinput.query.subqueries > 99\n}\n"
        + '\ndeny contains lib.denial("dwp.never", "never", "never") if {\n'
        + '\tsome t in dwp_tables\n\tt.dataset == "dwp.no_such_dataset"\n}\n'
    )
    unreached = line_of(dwp, "input.query.subqueries > 99")
    never_head = line_of(dwp, '"dwp.never"')
    never_body = line_of(dwp, '"dwp.no_such_dataset"')
    opt_out = line_of(dwp, "opt_out_filter[t.dataset] := ")
    r = run("test", "--dir", str(policies), "--run", r"\.dwp\.", "--coverage", "-v", home=trust_home)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    rows = dict(re.findall(r"^  (\S+\.rego)\s+(\d+\.\d)%", out, re.M))
    assert {"departments/dwp.rego", "common/trust.rego", "trust.rego", "lib.rego"} <= set(rows)
    assert float(rows["departments/dwp.rego"]) < 100.0
    dwp_block = out[out.index("departments/dwp.rego") :].split("\n  departments/hmrc.rego")[0]
    not_covered = _lines(re.search(r"not covered: (.*)", dwp_block).group(1))
    covered = _lines(re.search(r"covered:     (.*)", dwp_block).group(1))
    # A rule no test reaches, and the head of a denial whose body never succeeds, are not covered;
    # the body expression that was evaluated (and came out false) is.
    assert {unreached, never_head} <= not_covered
    assert never_body in covered and opt_out in covered
    # Only DWP's tests ran: HMRC's top-coding mask is never built.
    hmrc = policies / "departments" / "hmrc.rego"
    assert line_of(hmrc, '"rule": "hmrc.top_code"') in _lines(
        re.search(r"departments/hmrc\.rego.*\n\s+not covered: (.*)", out).group(1)
    )


def _lines(ranges: str) -> set[int]:
    found: set[int] = set()
    for part in ranges.split(", "):
        first, _, last = part.partition("-")
        found |= set(range(int(first), int(last or first) + 1))
    return found


def test_min_coverage_sets_the_exit_status(trust_home):
    r = run("test", "--run", r"\.desnz\.", "--min-coverage", "99", home=trust_home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "PASS: 4/4" in r.stdout and "is below --min-coverage 99%" in r.stdout


# -- failing tests and compile errors ----------------------------------------------------------------


def test_a_failing_test_shows_its_expression_file_line_and_values(trust_home, policies):
    (policies / "departments" / "zz_test.rego").write_text(
        "package tests.departments.zz\n\nimport rego.v1\n\nimport data.tests.fixtures as fx\n\n"
        "test_deliberately_wrong if {\n"
        '\td := fx.decide(fx.ana, "demo-employment-support", fx.query(["dwp.uc_claims"]))\n'
        "\td.allow\n"
        '\tfx.filters(d, "dwp.uc_claims") == {"NOT opted_in"}\n'
        "}\n"
    )
    r = run("test", "--dir", str(policies), "--run", r"\.zz\.", home=trust_home)
    assert r.returncode == 1
    assert "data.tests.departments.zz.test_deliberately_wrong: FAIL" in r.stdout
    assert "departments/zz_test.rego:7:" in r.stdout  # the test
    assert (
        'fails at departments/zz_test.rego:10:2: fx.filters(d, "dwp.uc_claims") == {"NOT opted_in"}  (false)'
        in r.stdout
    )
    assert re.search(r'values: .*"NOT opted_out".*\|.*"NOT opted_in"', r.stdout)


def test_a_broken_rule_names_the_test_expression_that_stopped(trust_home, policies):
    desnz = policies / "departments" / "desnz.rego"
    desnz.write_text(desnz.read_text().replace("count(area) > 0", "count(area) > 5"))
    test = policies / "departments" / "desnz_test.rego"
    r = run("test", "--dir", str(policies), "--run", r"\.desnz\.", home=trust_home)
    assert r.returncode == 1 and "FAIL: 1/4" in r.stdout
    at = line_of(test, '== {"desnz.industry_by_area"}')
    assert f"fails at departments/desnz_test.rego:{at}:2: fx.rules(" in r.stdout
    assert re.search(r"values: <>\s+\|\s+<\"desnz.industry_by_area\">", r.stdout)


def test_a_syntax_error_is_reported_once_with_file_line_and_column(trust_home, policies):
    dfe = policies / "departments" / "dfe.rego"
    at = line_of(dfe, "not names_dfe")
    dfe.write_text(dfe.read_text().replace("\tnot names_dfe\n", "\tnot names_dfe ===\n", 1))
    r = run("test", "--dir", str(policies), home=trust_home)
    assert r.returncode == 1
    located = re.findall(rf"departments/dfe\.rego:{at}:\d+: error: .*", r.stdout)
    assert len(located) == 1, r.stdout
    assert r.stdout.count("Invalid boolean operator") == 1
    assert "no test ran" in r.stdout and "ERROR: " in r.stdout
    r = run("check", "--dir", str(policies), home=trust_home)
    assert r.returncode == 1 and len(re.findall(rf"departments/dfe\.rego:{at}:\d+: error: syntax", r.stdout)) == 1


def test_errors_on_different_lines_are_each_reported(trust_home, policies):
    hmrc = policies / "departments" / "hmrc.rego"
    hmrc.write_text(hmrc.read_text() + "\nbroken_one if {\n\tinput.x ==\n}\n\nbroken_two if {\n\t1 +\n}\n")
    r = run("test", "--dir", str(policies), "--run", r"\.hmrc\.", home=trust_home)
    assert r.returncode == 1
    errors = [line for line in r.stdout.splitlines() if ": error: " in line]
    assert len(errors) == len(set(errors)) >= 2, r.stdout
    assert all(e.startswith("departments/hmrc.rego:") for e in errors)


# -- explain -----------------------------------------------------------------------------------------


def test_explain_names_the_file_and_line_of_every_rule_that_fired(trust, trust_home):
    sql = "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region"
    r = run("explain", "--user", "bob", "--project", "demo-dwp-caseload", "--offline", sql, home=trust_home)
    assert r.returncode == 0, r.stderr
    dwp = REPO_ROOT / "policies" / "departments" / "dwp.rego"
    common = REPO_ROOT / "policies" / "common" / "trust.rego"
    opt_out = line_of(dwp, '"rule": "dwp.opt_out"')
    own_areas = line_of(common, '"rule": "trust.own_areas"')
    assert f"row_filter   dwp.opt_out (departments/dwp.rego:{opt_out})" in r.stdout
    assert f"row_filter   trust.own_areas (common/trust.rego:{own_areas})" in r.stdout
    disclosure = REPO_ROOT / "policies" / "data" / "disclosure.json"
    defaults = line_of(disclosure, '"defaults"')
    assert f"disclosure.defaults (data/disclosure.json:{defaults})" in r.stdout

    denied = "SELECT health_condition_group, count(*) AS n FROM dwp.pip_awards GROUP BY 1"
    r = run(
        "explain",
        "--user",
        "ana",
        "--project",
        "demo-disability-employment",
        "--offline",
        "--json",
        denied,
        home=trust_home,
    )
    body = json.loads(r.stdout)
    where = body["locations"]["deny dwp.special_category"]
    file, line = where.split(":")
    assert file == "departments/dwp.rego"
    assert (REPO_ROOT / "policies" / file).read_text().splitlines()[int(line) - 1].startswith("deny contains")


# -- diff --------------------------------------------------------------------------------------------


def _audit_some_queries(trust) -> None:
    trust.queries.run(
        "ana", "demo-employment-support", "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region"
    )
    trust.queries.run("bob", "demo-dwp-caseload", "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region")
    with pytest.raises(PolicyDenied):
        trust.queries.run(
            "ana",
            "demo-disability-employment",
            "SELECT health_condition_group, count(*) AS n FROM dwp.pip_awards GROUP BY 1",
        )


def test_the_audit_records_the_policy_input_of_each_decision(trust):
    _audit_some_queries(trust)
    events = [e for e in trust.audit.events() if e.kind in {"output_created", "query_refused"}]
    assert len(events) == 3
    for e in events:
        document = e.payload["policy_input"]
        assert document["identity"]["user"] == e.actor and document["project"]["id"] == e.project
        assert {t["dataset"] for t in document["query"]["tables"]} <= {"dwp.uc_claims", "dwp.pip_awards"}


def test_diff_lists_exactly_the_decisions_a_candidate_policy_changes(trust, trust_home, tmp_path):
    _audit_some_queries(trust)
    unchanged = tmp_path / "unchanged"
    shutil.copytree(REPO_ROOT / "policies", unchanged)
    r = run("diff", "--against", str(unchanged), home=trust_home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Replayed 3 audited decision(s); 0 would change" in r.stdout

    # DWP approves employment support for special category data: only the refused query flips.
    flips = tmp_path / "flips"
    shutil.copytree(REPO_ROOT / "policies", flips)
    settings = json.loads((flips / "data" / "departments.json").read_text())
    settings["DWP"]["special_category_purposes"].append("employment_support")
    (flips / "data" / "departments.json").write_text(json.dumps(settings, indent=1))
    r = run("diff", "--against", str(flips), "--json", home=trust_home)
    assert r.returncode == 1, r.stdout + r.stderr
    body = json.loads(r.stdout)
    assert body["replayed"] == 3 and body["changed"] == 1
    [(project, group)] = body["projects"].items()
    assert project == "demo-disability-employment" and group["changed"] == 1
    [decision] = group["decisions"]
    assert decision["flips"] == "deny -> allow" and decision["user"] == "ana"
    assert "- denied by dwp.special_category" in decision["changes"]

    # A changed opt-out filter changes both uc_claims outputs' row filters, grouped by project; no flip.
    filters = tmp_path / "filters"
    shutil.copytree(REPO_ROOT / "policies", filters)
    dwp = filters / "departments" / "dwp.rego"
    dwp.write_text(
        dwp.read_text()
        .replace('lib.text(["NOT ", settings', 'lib.text(["NOT coalesce(", settings')
        .replace("opt_out_columns[t.dataset]])", 'opt_out_columns[t.dataset], ", false)"])')
    )
    r = run("diff", "--against", str(filters), home=trust_home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Replayed 3 audited decision(s); 2 would change" in r.stdout
    assert "demo-employment-support: 1 of 1 decision(s) change (0 flip)" in r.stdout
    assert "demo-dwp-caseload: 1 of 1 decision(s) change (0 flip)" in r.stdout
    assert "+ row filter dwp.uc_claims: NOT coalesce(opted_out, false)" in r.stdout
    assert "- row filter dwp.uc_claims: NOT opted_out" in r.stdout
    assert "demo-disability-employment" not in r.stdout

    r = run("diff", "--against", str(filters), "--limit", "1", home=trust_home)
    assert "Replayed 1 audited decision(s)" in r.stdout  # the newest: the refusal, unchanged
    r = run("diff", "--against", str(filters), "--since", "2999-01-01", home=trust_home)
    assert r.returncode == 0 and "Replayed 0 audited decision(s)" in r.stdout


def test_diff_against_a_candidate_that_does_not_compile_says_so_in_one_line(trust, trust_home, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(REPO_ROOT / "policies", broken)
    dfe = broken / "departments" / "dfe.rego"
    dfe.write_text(dfe.read_text().replace("\tnot names_dfe\n", "\tnot names_dfe ===\n", 1))
    r = run("diff", "--against", str(broken), home=trust_home)
    assert r.returncode == 2
    assert "does not compile" in r.stderr and "Traceback" not in r.stderr
