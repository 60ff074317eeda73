"""The ``trust`` command as a user runs it: real processes, real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TRUST = [sys.executable, "-m", "trust.cli"]


def run(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRUST_HOME": str(home)}
    return subprocess.run([*TRUST, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_query_prints_protected_table(trust, trust_home):
    r = run(
        "query",
        "--user",
        "ana",
        "--project",
        "demo-employment-support",
        "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses "
        "GROUP BY sic_section ORDER BY 1",
        home=trust_home,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["sic_section", "businesses", "turnover"]
    farming = next(line for line in lines if line.startswith("A "))  # two businesses hold most of its turnover
    assert farming.split()[1].replace(",", "").isdigit() and farming.split()[2] == "[c]"
    assert "suppressed" in r.stdout and r.stdout.strip().splitlines()[-1].startswith("output out-")


def test_query_csv_and_json(trust, trust_home):
    sql = "SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex ORDER BY sex"
    r = run("query", "--user", "bob", "--project", "demo-dwp-caseload", "--format", "csv", sql, home=trust_home)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "sex,n"
    r = run("query", "--user", "bob", "--project", "demo-dwp-caseload", "--format", "json", sql, home=trust_home)
    import json

    body = json.loads(r.stdout)
    assert body["columns"] == ["sex", "n"] and len(body["rows"]) == 2
    assert all("units" not in cell for cell in body["disclosure"]["cells"])  # checkers' figures stay inside


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT nino, count(*) FROM dwp.uc_claims GROUP BY 1", "direct identifier"),
        ("SELECT count(*) FROM hmrc.paye_employments", "trust.dataset_not_approved"),
        ("SELEC count(*) FROM dwp.uc_claims", "could not be parsed"),
        ("SELECT count(*) FROM dwp.uc_claimz", "Did you mean 'dwp.uc_claims'"),
    ],
)
def test_errors_are_one_line_without_traceback(trust, trust_home, sql, expected):
    r = run("query", "--user", "bob", "--project", "demo-dwp-caseload", sql, home=trust_home)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and expected in r.stderr
    assert "Traceback" not in r.stderr


def test_catalog_list_and_show(trust, trust_home):
    r = run("catalog", "list", home=trust_home)
    assert r.returncode == 0
    for ds in ("dwp.uc_claims", "dwp.pip_awards", "hmrc.paye_employments", "dfe.learners", "desnz.businesses"):
        assert ds in r.stdout
    r = run("catalog", "show", "dwp.uc_claims", home=trust_home)
    assert r.returncode == 0
    assert "nino" in r.stdout and "direct_identifier" in r.stdout and "VARCHAR" in r.stdout
    r = run("catalog", "show", "dwp.nope", "--offline", home=trust_home)
    assert r.returncode == 2 and "No dataset 'dwp.nope'" in r.stderr


def test_unreachable_department_is_a_clear_error(trust_home):
    from trust.config import write_config

    write_config(
        trust_home,
        locations={
            "DWP_DATA_URL": "http://127.0.0.1:9",
            "DFE_DATA_URL": "http://127.0.0.1:9",
            "DESNZ_DATA_URL": "http://127.0.0.1:9",
            "HMRC_S3_BUCKET": "hmrc-earnings",
        },
        credentials={
            "hmrc": {
                "type": "s3",
                "key_id": "k",
                "secret": "s",
                "endpoint": "127.0.0.1:9",
                "url_style": "path",
                "use_ssl": "false",
            }
        },
    )
    r = run("catalog", "list", home=trust_home)
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout  # nothing can be queried
    lines = {line.split()[0]: line for line in r.stdout.splitlines()[2:] if line.strip() and not line.startswith(" ")}
    assert all("unavailable" in lines[d] for d in ("dwp.uc_claims", "dfe.learners", "hmrc.paye_employments"))
    assert "DWP's server could not be reached or read" in lines["dwp.uc_claims"]


def test_audit_verify(trust, trust_home):
    trust.session("ana", "demo-employment-support").sql("SELECT sex, count(*) FROM dwp.uc_claims GROUP BY sex")
    r = run("audit", "verify", home=trust_home)
    assert r.returncode == 0 and r.stdout.startswith("ok:")


def test_departments_serve_prints_ready_and_stops(tmp_path, data_dir):
    home = tmp_path / "serve-home"
    env = {**os.environ, "TRUST_HOME": str(home)}
    proc = subprocess.Popen(
        [*TRUST, "departments", "serve", "--scale", "0.5", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "ready" not in line:
            line = proc.stdout.readline()
        assert "ready" in line and "DWP=http://127.0.0.1:" in line and "HMRC=s3://hmrc-earnings@" in line
        r = run(
            "query",
            "--user",
            "bob",
            "--project",
            "demo-dwp-caseload",
            "SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex",
            home=home,
        )
        assert r.returncode == 0, r.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_the_demo_walks_through_every_kind_of_answer(tmp_path, data_dir):
    # The README's first command ends in `trust demo`; here on the test data, in its own home.
    r = run(
        "--home",
        str(tmp_path / "home"),
        "demo",
        "--scale",
        "0.5",
        "--data-dir",
        str(data_dir),
        home=tmp_path / "home",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text = r.stdout
    assert "refused: Denied by policy [trust.dataset_not_approved]" in text  # a denial, as one line
    assert "is a direct identifier" in text  # a rejected query
    small_areas = text.split("GROUP BY la_code\nORDER BY la_code")[1].split("Isles of Scilly (3 claimants)")[0]
    assert "never leave the" in text and "E06000052" in small_areas and "E06000053" not in small_areas
    assert "(dominance)" in text and "[c]" in text  # a dominated total, and why, as the checker sees it
    assert "is not Scilly's 3 claimants" in text and "the answer is the same" in text  # perturbation
    assert "chain intact" in text and "Traceback" not in text + r.stderr
