"""A governed query end to end, against the real department servers (HTTP and S3)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

import trust
from tests.views import AsChecker, true_rows
from trust.config import REPO_ROOT
from trust.sdc.report import SUPPRESSED_MARKER

CROSS = """
SELECT u.region, count(DISTINCT u.person_id) AS people, sum(p.gross_pay) AS pay
FROM dwp.uc_claims AS u JOIN hmrc.paye_employments AS p ON u.person_id = p.person_id
GROUP BY u.region ORDER BY u.region
"""


def _local(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """The same data read directly, with the obligations the policy applies (opt-out, top-coding)."""
    caps = json.loads((REPO_ROOT / "policies" / "data" / "departments.json").read_text())["HMRC"]["top_code"]
    pay_cap = caps["hmrc.paye_employments"]["gross_pay"]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA dwp; CREATE SCHEMA hmrc")
    con.execute(
        f"CREATE VIEW dwp.uc_claims AS SELECT * FROM read_parquet('{data_dir}/dwp/uc_claims/*.parquet') WHERE NOT opted_out"
    )
    con.execute(
        f"CREATE VIEW hmrc.paye_employments AS SELECT * REPLACE (least(gross_pay, {pay_cap}) AS gross_pay) "
        f"FROM read_parquet('{data_dir}/hmrc/paye_employments/*.parquet')"
    )
    return con


@pytest.fixture
def ana(trust) -> AsChecker:
    # The stored outputs, as checkers see them: the true numbers beside the published ones.
    return AsChecker(trust, "ana", "demo-employment-support")


def test_cross_department_query_matches_a_direct_computation(ana, data_dir):
    out = ana.sql(CROSS)
    expected = _local(data_dir).execute(CROSS).fetchall()
    assert out.columns == ["region", "people", "pay"]
    assert len(out.rows()) == len(expected) == 9
    for got, want in zip(true_rows(out), expected):
        assert got[0] == want[0] and got[1] == want[1]
        assert math.isclose(got[2], want[2], rel_tol=1e-9)
    assert out.report.status.value == "ok"
    assert set(out.fingerprints) == {"dwp.uc_claims", "hmrc.paye_employments"}


TURNOVER = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses GROUP BY sic_section"
)


def _businesses(data_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA desnz")
    con.execute(f"CREATE VIEW desnz.businesses AS SELECT * FROM read_parquet('{data_dir}/desnz/businesses/*.parquet')")
    return con


def test_small_areas_are_withheld_and_the_boundary_passes(ana, data_dir):
    out = ana.sql("SELECT la_code, count(*) AS claimants FROM dwp.uc_claims GROUP BY la_code")
    direct = dict(
        _local(data_dir)
        .execute("SELECT la_code, count(DISTINCT person_id) FROM dwp.uc_claims GROUP BY la_code")
        .fetchall()
    )
    assert dict(true_rows(out)) == {la: n for la, n in direct.items() if n >= 10}
    assert direct["E06000053"] == 3 and direct["E09000001"] == 7  # Isles of Scilly, City of London: not shown
    assert 10 in direct.values()  # a cell of exactly 10 is shown (the comparison above)
    frame = out.to_pandas()
    assert frame.attrs == {} and list(frame.columns) == ["la_code", "claimants"]


def test_a_dominated_cell_shows_c_in_every_rendering(trust, data_dir):
    out = trust.session("ana", "demo-employment-support").sql(TURNOVER)  # what the analyst receives
    direct = {
        s: (n, t, top)
        for s, n, t, top in _businesses(data_dir)
        .execute(
            "SELECT sic_section, count(DISTINCT employer_id), sum(turnover), max(turnover, 2) FROM desnz.businesses "
            "GROUP BY sic_section"
        )
        .fetchall()
    }
    dominated = {s for s, (n, t, top) in direct.items() if n >= 10 and sum(top) >= 0.9 * t}
    assert dominated, "the demo data has no sector where two businesses hold 90% of turnover"
    rows = {r[0]: r for r in out.rows()}
    for section in dominated:
        count = rows[section][1]  # the count is safe (and perturbed), the sum not
        assert rows[section] == (section, count, SUPPRESSED_MARKER) and abs(count - direct[section][0]) <= 10
    frame = out.to_pandas().set_index("sic_section")
    assert frame.loc[sorted(dominated), "turnover"].isna().all()  # missing in the data; [c] only in the views
    arrow = out.to_arrow()
    assert arrow.column_names == ["sic_section", "businesses", "turnover"]
    assert arrow.column("turnover").null_count >= len(dominated)
    assert SUPPRESSED_MARKER in out._repr_html_() and SUPPRESSED_MARKER in str(out)


def test_report_names_rule_and_figures_per_cell(ana, data_dir):
    out = ana.sql(TURNOVER)
    section, n, total, top = (
        _businesses(data_dir)
        .execute(
            "SELECT sic_section, count(DISTINCT employer_id), sum(turnover), max(turnover, 2) FROM desnz.businesses "
            "GROUP BY sic_section HAVING count(DISTINCT employer_id) >= 10 "
            "ORDER BY (list_sum(max(turnover, 2)) / sum(turnover)) DESC LIMIT 1"
        )
        .fetchone()
    )
    row = next(r for r, values in enumerate(out.rows()) if values[0] == section)
    cells = {c.column: c for c in out.report.cells if c.row == row}
    assert cells["businesses"].status.value == "ok" and cells["businesses"].units == n
    hidden = cells["turnover"]
    assert (hidden.status.value, hidden.rule, hidden.units) == ("suppressed", "dominance", n)
    assert math.isclose(hidden.figures["dominance_share"], sum(top) / total, rel_tol=1e-6)
    assert "suppressed" in out.report.summary() and "dominance" in out.report.summary()


def test_units_count_people_not_rows(ana):
    # A person has many PAYE rows; disclosure control must count people.
    out = ana.sql(
        "SELECT p.tax_month, count(*) AS rows_, count(DISTINCT p.person_id) AS people "
        "FROM hmrc.paye_employments p GROUP BY p.tax_month ORDER BY 1"
    )
    for cell in out.report.cells:
        row = true_rows(out)[cell.row]
        assert cell.units == row[2]


def test_policy_denial_is_one_clear_line(bob):
    with pytest.raises(trust.PolicyDenied) as info:
        bob.sql("SELECT count(*) FROM hmrc.paye_employments")
    message = str(info.value)
    assert "trust.dataset_not_approved" in message and "hmrc.paye_employments" in message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("SELECT nino, count(*) FROM dwp.uc_claims GROUP BY nino", "direct_identifier"),
        ("SELECT region, award_amount FROM dwp.uc_claims", "measure_not_aggregated"),
        ("SELECT region FROM dwp.uc_claims", "row_level_output"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "table_not_dataset"),
        ("DROP TABLE dwp.uc_claims", "select_only"),
        ("SELECT 1; SELECT 2", "one_statement"),
        ("SELECT count(*) FROM dwp.uc_claims WHERE person_id = 'p0'", "linkage_key_use"),
    ],
)
def test_rejections_name_the_rule(ana, sql, rule):
    with pytest.raises(trust.QueryRejected) as info:
        ana.sql(sql)
    assert info.value.rule == rule
    assert "\n" not in str(info.value)


def test_unknown_dataset_suggests_the_right_name(ana):
    with pytest.raises(trust.UnknownName, match="Did you mean 'dwp.uc_claims'"):
        ana.sql("SELECT count(*) FROM dwp.uc_claim")


def test_engine_error_does_not_echo_values(ana):
    # A cast that fails on a row's value must never print the value: the trust runs explicit casts
    # as TRY_CAST (no error oracle at all), and maps any engine error to a fixed message.
    out = ana.sql("SELECT sex, count(*) AS n FROM dwp.uc_claims WHERE CAST(region AS INTEGER) > 0 GROUP BY sex")
    assert out.table.num_rows == 0
    from trust.engine.errors import map_engine_error

    try:
        duckdb.sql("SELECT CAST('E12000007' AS INTEGER)").fetchall()
    except duckdb.Error as exc:
        mapped = map_engine_error(exc, timeout_s=1)
    assert "E12000007" not in str(mapped) and "could not be converted" in str(mapped)


def test_executed_sql_is_generated_from_the_tree(ana, trust):
    sql = "select REGION, COUNT(*) as N from DWP.UC_CLAIMS /* read_parquet('/etc/passwd') */ group by REGION -- end"
    out = ana.sql(sql)
    assert out.sql == sql
    assert "/etc/passwd" not in out.executed_sql and "--" not in out.executed_sql
    import sqlglot

    tree = sqlglot.parse_one(out.executed_sql, read="duckdb")
    assert tree.sql("duckdb") == out.executed_sql  # the text that ran is the tree's own rendering
    assert [p.alias_or_name for p in tree.expressions][:2] == ["region", "n"]
    assert out.table.column_names == ["region", "n"]  # the hidden companion columns never reach the analyst
    assert "NOT opted_out" in out.executed_sql.replace('"', "")
    event = trust.audit.events(kind="output_created")[-1]
    import hashlib

    assert event.payload["executed_sql_sha256"] == hashlib.sha256(out.executed_sql.encode()).hexdigest()


def test_every_outcome_is_audited_and_chain_verifies(ana, bob, trust):
    ana.sql("SELECT region, count(*) FROM dwp.uc_claims GROUP BY region")
    with pytest.raises(trust_mod().PolicyDenied):
        bob.sql("SELECT count(*) FROM dfe.learners")
    kinds = [e.kind for e in trust.audit.events()]
    assert "output_created" in kinds and "query_refused" in kinds
    assert trust.audit.verify()[0]


def trust_mod():
    return trust


def test_connect_embedded(trust_home, trust):
    session = trust_mod().connect(user="ana", project="demo-employment-support", home=trust_home)
    out = session.sql("SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex ORDER BY sex")
    assert [r[0] for r in out.rows()] == ["F", "M"]
    with pytest.raises(trust_mod().UnknownName):
        trust_mod().connect(user="nobody", project="demo-employment-support", home=trust_home)
