"""``trust query`` as a user runs it: a real process against the real department servers, piped into
other tools, refused, corrected, and printed as text, CSV and the notebook's HTML."""

from __future__ import annotations

import csv
import html
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trust.server.launch import trust_command, trust_env
from trust.service import Trust

PROJECT = "demo-employment-support"
SECTORS = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover, avg(turnover) AS mean_turnover "
    "FROM desnz.businesses GROUP BY sic_section ORDER BY sic_section"
)
# Hundreds of rows: more than a pipe takes in one write, so the reader leaves while the trust still writes.
MANY_ROWS = (
    "SELECT la_code, sex, age_band, count(*) AS claimants, avg(award_amount) AS mean_award "
    "FROM dwp.uc_claims GROUP BY la_code, sex, age_band ORDER BY la_code, sex, age_band"
)
SIGPIPE_EXIT = 128 + 13


def query(
    home: Path, sql: str, *options: str, user: str = "ana", project: str = PROJECT
) -> subprocess.CompletedProcess[str]:
    return trust_command("query", "--user", user, "--project", project, *options, sql, home=home, timeout=180)


def popen_query(home: Path, sql: str, *options: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "trust.cli", "query", "--user", "ana", "--project", PROJECT, *options, sql]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=trust_env(home))


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_piped_into_head_it_stops_quietly(trust: Trust, trust_home: Path, fmt: str):
    full = query(trust_home, MANY_ROWS, "--format", fmt)
    assert full.returncode == 0 and full.stderr == "", full.stderr
    assert len(full.stdout) > 8192, "the output must outgrow the first write for the pipe to break"

    writer = popen_query(trust_home, MANY_ROWS, "--format", fmt)  # trust query ... | head -1
    assert writer.stdout is not None and writer.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=writer.stdout, stdout=subprocess.PIPE)
    writer.stdout.close()  # head alone reads it now
    first, _ = head.communicate(timeout=180)
    errors = writer.stderr.read()
    writer.wait(timeout=60)
    assert first.decode() == full.stdout.splitlines(keepends=True)[0]
    assert errors == b"", errors.decode()
    assert writer.returncode in (0, SIGPIPE_EXIT)


def test_a_reader_that_has_gone_stops_it_quietly(trust: Trust, trust_home: Path):
    writer = popen_query(trust_home, SECTORS, "--format", "csv")
    assert writer.stdout is not None
    writer.stdout.close()  # nobody will read: the first write breaks the pipe
    _, errors = writer.communicate(timeout=180)
    assert errors == b"", errors.decode()
    assert writer.returncode == SIGPIPE_EXIT


def test_every_denial_is_shown(trust: Trust, trust_home: Path):
    sql = (
        "SELECT b.sic_section, count(*) AS n FROM hmrc.paye_employments AS p "
        "JOIN desnz.businesses AS b ON p.employer_id = b.employer_id GROUP BY b.sic_section"
    )
    r = query(trust_home, sql, user="bob", project="demo-dwp-caseload")  # approved for neither dataset
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(
        line.startswith("error: Denied by policy [trust.dataset_not_approved]: ") for line in lines
    )
    assert "hmrc.paye_employments" in lines[0] + lines[1] and "desnz.businesses" in lines[0] + lines[1]
    assert "more)" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex ORDER BY sex; -- done",
        "SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex ORDER BY sex -- by sex\n;",
        "-- claimants by sex\nSELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex ORDER BY sex; /* end */",
    ],
    ids=["comment-after-semicolon", "semicolon-after-comment", "comments-around"],
)
def test_a_trailing_semicolon_and_comments_are_one_statement(trust: Trust, trust_home: Path, sql: str):
    r = query(trust_home, sql, "--format", "csv")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    header, *rows = r.stdout.splitlines()
    assert header == "sex,n" and [row.split(",")[0] for row in rows] == ["F", "M"]


def test_two_statements_are_still_refused(trust: Trust, trust_home: Path):
    r = query(trust_home, "SELECT count(*) FROM dwp.uc_claims; -- done\nSELECT count(*) FROM dfe.learners;")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: The text holds 2 statements; send exactly one SELECT.\n"


@pytest.mark.parametrize(
    ("sql", "suggested", "not_suggested"),
    [
        # a table without its department: the dataset's full name, not the bare name just refused
        ("SELECT count(*) FROM uc_claims", "Did you mean 'dwp.uc_claims'?", "Did you mean 'uc_claims'"),
        # a CTE's own column, not the dataset column it was made from
        (
            "WITH t AS (SELECT region AS home_region FROM dwp.uc_claims) "
            "SELECT home_regio, count(*) AS n FROM t GROUP BY 1",
            "Did you mean 'home_region'?",
            "'region'",
        ),
        # a column of a dataset this query does not read (HMRC's gross_pay) is no suggestion
        ("SELECT gross_pai, count(*) AS n FROM dwp.uc_claims GROUP BY 1", None, "gross_pay"),
        # nor one of the other side of a join, for a column qualified with this side's alias
        (
            "SELECT u.sic_sectio, count(*) AS n FROM dwp.uc_claims AS u "
            "JOIN desnz.businesses AS b ON u.person_id = b.employer_id GROUP BY 1",
            None,
            "sic_section",
        ),
        ("SELECT regoin, count(*) AS n FROM dwp.uc_claims GROUP BY 1", "Did you mean 'region'?", None),
    ],
    ids=["bare-table", "cte-column", "other-dataset", "other-alias", "typo"],
)
def test_did_you_mean_names_what_the_query_can_read(
    trust: Trust, trust_home: Path, sql: str, suggested: str | None, not_suggested: str | None
):
    r = query(trust_home, sql)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
    if suggested:
        assert suggested in r.stderr
    else:
        assert "Did you mean" not in r.stderr
    if not_suggested:
        assert not_suggested not in r.stderr


def test_the_text_table_shows_what_csv_and_the_notebook_show(trust: Trust, trust_home: Path):
    text, table = query(trust_home, SECTORS), query(trust_home, SECTORS, "--format", "csv")
    assert text.returncode == table.returncode == 0 and text.stderr == table.stderr == ""
    page = trust.session("ana", PROJECT).sql(SECTORS)._repr_html_()  # the same published values
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    notebook = [
        [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]

    lines = text.stdout.splitlines()
    assert lines[0].split() == ["sic_section", "businesses", "turnover", "mean_turnover"]
    assert set(lines[1]) == {"─"}  # rich's rule under the header
    rows = [line.split() for line in lines[2 : 2 + len(notebook)]]
    assert rows == notebook and any("[c]" in row for row in rows)
    summary = lines[2 + len(notebook)]  # the disclosure summary: three measures a row
    assert summary.startswith(f"{len(notebook) * 3} cells: ")
    assert lines[-1].startswith("output out-")
    widths = {len(line) for line in lines[2 : 2 + len(notebook)]}
    assert len(widths) == 1, "numbers are right-aligned in columns of one width"

    shown = list(csv.reader(io.StringIO(table.stdout)))
    assert shown[0] == lines[0].split()
    assert shown[1:] == [[c.replace(",", "") for c in row] for row in notebook]
    assert all(re.fullmatch(r"-?\d+\.\d\d|\[c\]", row[3]) for row in shown[1:])  # means: two decimals, as shown
