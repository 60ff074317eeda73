"""Policy obligations end to end, on the real department servers: row filters and column masks
hold whatever the query does (subqueries, CTEs, self-joins, unions), and denials name their rule.

bob is a Greater Manchester Combined Authority analyst: he sees only its ten districts' rows
(the demo data has three of them). Every expectation is computed directly from the Parquet files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

import trust
from tests.views import AsChecker
from trust.config import REPO_ROOT
from trust.demo.environment import configure_home, seed_users
from trust.sdc.report import SUPPRESSED_MARKER
from trust.service import Trust

GM = tuple(f"E080000{i:02d}" for i in range(1, 11))
CAP = 20000
UC_WHERE = f"NOT opted_out AND la_code IN {GM}"


@pytest.fixture(scope="module")
def shared(departments, tmp_path_factory: pytest.TempPathFactory) -> Trust:
    """One trust for this module, like conftest's ``trust`` but registered once: these tests only
    read, and registering the catalogue (footers over HTTP and S3) per test would dominate."""
    home = tmp_path_factory.mktemp("obligations-home")
    configure_home(home, departments.endpoints)
    shared = Trust.open(home)
    seed_users(shared)
    assert len(shared.catalog.bound()) >= 5
    return shared


@pytest.fixture
def ana(shared: Trust) -> AsChecker:
    # Obligations are about which rows are read: these tests compare the true numbers, as checkers see them.
    return AsChecker(shared, "ana", "demo-employment-support")


@pytest.fixture
def bob(trust: Trust) -> AsChecker:
    return AsChecker(trust, "bob", "demo-dwp-caseload")


def local(data_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA dwp; CREATE SCHEMA hmrc")
    con.execute(f"CREATE VIEW dwp.uc_claims AS SELECT * FROM read_parquet('{data_dir}/dwp/uc_claims/*.parquet')")
    con.execute(
        f"CREATE VIEW hmrc.paye_employments AS SELECT * FROM read_parquet('{data_dir}/hmrc/paye_employments/*.parquet')"
    )
    return con


@pytest.fixture(scope="module")
def gm_counts(data_dir: Path) -> dict[str, int]:
    rows = (
        local(data_dir).execute(f"SELECT la_code, count(*) FROM dwp.uc_claims WHERE {UC_WHERE} GROUP BY 1").fetchall()
    )
    assert len(rows) >= 2, "the demo data should hold some Greater Manchester claimants"
    return dict(rows)


def table(out) -> dict:
    """Each row's key and its true value (the checker's view; the analyst's is perturbed)."""
    true = {c.row: c.figures["value"] for c in out.report.cells if c.status.value == "ok"}
    return {row[0]: true.get(r) for r, row in enumerate(out.rows())}


# -- Row filters: a Strategic Authority analyst sees only its areas -------------------------------

BY_LA = "SELECT la_code, count(*) AS n FROM dwp.uc_claims GROUP BY la_code"
BYPASSES = {
    "plain": BY_LA,
    "or-true": "SELECT la_code, count(*) AS n FROM dwp.uc_claims WHERE la_code = 'E09000008' OR 1 = 1 GROUP BY la_code",
    "subquery": "SELECT s.la_code, count(*) AS n FROM (SELECT la_code FROM dwp.uc_claims) AS s GROUP BY s.la_code",
    "nested-subquery": "SELECT t.la_code, count(*) AS n FROM (SELECT s.la_code FROM (SELECT la_code, region FROM "
    "dwp.uc_claims WHERE region IS NOT NULL) AS s) AS t GROUP BY t.la_code",
    "cte": "WITH everyone AS (SELECT la_code FROM dwp.uc_claims WHERE la_code LIKE 'E%') "
    "SELECT la_code, count(*) AS n FROM everyone GROUP BY la_code",
    "self-join": "SELECT a.la_code, count(*) AS n FROM dwp.uc_claims AS a JOIN dwp.uc_claims AS b "
    "ON a.person_id = b.person_id GROUP BY a.la_code",
    "left-self-join": "SELECT b.la_code, count(*) AS n FROM dwp.uc_claims AS a LEFT JOIN dwp.uc_claims AS b "
    "ON a.person_id = b.person_id GROUP BY b.la_code",
    "cte-join-subquery": "WITH a AS (SELECT person_id, la_code FROM dwp.uc_claims) SELECT x.la_code, count(*) AS n "
    "FROM a AS x JOIN (SELECT person_id FROM dwp.uc_claims) AS y ON x.person_id = y.person_id "
    "GROUP BY x.la_code",
    "union-in-subquery": "SELECT u.la_code, count(*) AS n FROM (SELECT la_code FROM dwp.uc_claims UNION ALL "
    "SELECT la_code FROM dwp.uc_claims WHERE la_code = 'E09000008') AS u GROUP BY u.la_code",
}


@pytest.mark.parametrize("sql", BYPASSES.values(), ids=BYPASSES.keys())
def test_a_filtered_analyst_sees_only_their_areas_however_the_query_is_written(bob, gm_counts, sql):
    out = bob.sql(sql)
    shown = table(out)
    assert shown == gm_counts
    # Every reference to the dataset became a filtered leaf: one area filter per table reference.
    references = len(re.findall(r"\bdwp\.uc_claims\b", sql))
    assert out.executed_sql.count("la_code IN ('E08000001'") == references
    assert out.executed_sql.count("NOT opted_out") == references


def test_a_union_of_two_results_cannot_add_another_area(bob, gm_counts):
    out = bob.sql(
        "SELECT la_code, count(*) AS n FROM dwp.uc_claims WHERE la_code = 'E08000003' GROUP BY la_code "
        "UNION ALL SELECT la_code, count(*) AS n FROM dwp.uc_claims WHERE la_code = 'E09000008' GROUP BY la_code"
    )
    assert table(out) == {"E08000003": gm_counts["E08000003"]}


def test_a_region_total_is_the_areas_total_not_the_regions(bob, gm_counts, data_dir):
    out = bob.sql("WITH c AS (SELECT region FROM dwp.uc_claims) SELECT region, count(*) AS n FROM c GROUP BY region")
    north_west = (
        local(data_dir)
        .execute("SELECT count(*) FROM dwp.uc_claims WHERE region = 'E12000002' AND NOT opted_out")
        .fetchone()[0]
    )
    assert table(out) == {"E12000002": sum(gm_counts.values())}
    assert north_west > sum(gm_counts.values())


SMUGGLERS = {
    "scalar-subquery": "SELECT region, count(*) AS n, (SELECT count(*) FROM dwp.uc_claims) AS total FROM dwp.uc_claims GROUP BY region",
    "in-subquery": "SELECT region, count(*) AS n FROM dwp.uc_claims WHERE la_code IN (SELECT la_code FROM dwp.uc_claims "
    "WHERE region = 'E12000007') GROUP BY region",
    "exists": "SELECT region, count(*) AS n FROM dwp.uc_claims AS a WHERE EXISTS (SELECT 1 FROM dwp.uc_claims AS b "
    "WHERE b.la_code = 'E09000008') GROUP BY region",
}


@pytest.mark.parametrize("sql", SMUGGLERS.values(), ids=SMUGGLERS.keys())
def test_subqueries_in_expressions_are_refused_or_filtered(bob, gm_counts, sql):
    try:
        out = bob.sql(sql)
    except trust.QueryRejected as exc:
        assert exc.rule and "\n" not in str(exc)
        return
    total = sum(gm_counts.values())
    for row in out.rows():
        assert row[0] == "E12000002"
        assert all(v in (SUPPRESSED_MARKER, None) or v <= total for v in row[1:])


# -- The national data opt-out -------------------------------------------------------------------


def test_people_who_opted_out_are_never_counted(ana, data_dir):
    out = ana.sql("SELECT opted_out, count(*) AS n FROM dwp.uc_claims GROUP BY opted_out")
    kept = local(data_dir).execute("SELECT count(*) FROM dwp.uc_claims WHERE NOT opted_out").fetchone()[0]
    opted = local(data_dir).execute("SELECT count(*) FROM dwp.uc_claims WHERE opted_out").fetchone()[0]
    assert opted > 10 and table(out) == {False: kept}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) AS n FROM dwp.uc_claims WHERE opted_out",
        "SELECT count(*) AS n FROM (SELECT person_id FROM dwp.uc_claims WHERE opted_out UNION ALL "
        "SELECT person_id FROM dwp.uc_claims WHERE opted_out) AS u",
        "WITH o AS (SELECT person_id, opted_out FROM dwp.uc_claims) SELECT count(*) AS n FROM o AS a JOIN o AS b "
        "ON a.person_id = b.person_id WHERE a.opted_out OR b.opted_out",
    ],
    ids=["filter", "union", "cte-self-join"],
)
def test_opted_out_people_cannot_be_reached(ana, sql):
    out = ana.sql(sql)
    assert [row[0] for row in out.rows()] in ([SUPPRESSED_MARKER], [0], [])
    assert all(cell.units == 0 for cell in out.report.cells)


# -- Column masks -----------------------------------------------------------------------------------


def test_earnings_are_top_coded_wherever_they_are_read(ana, data_dir):
    out = ana.sql("SELECT p.tax_year, sum(p.gross_pay) AS pay FROM hmrc.paye_employments AS p GROUP BY p.tax_year")
    raw, capped = (
        local(data_dir)
        .execute(
            f"SELECT sum(gross_pay), sum(CASE WHEN gross_pay > {CAP} THEN {CAP} ELSE gross_pay END) "
            "FROM hmrc.paye_employments"
        )
        .fetchone()
    )
    assert raw > capped
    assert sum(table(out).values()) == pytest.approx(capped, rel=1e-9)


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT CASE WHEN gross_pay > {CAP} THEN 'above' ELSE 'at or below' END AS band, count(*) AS n "
        "FROM hmrc.paye_employments GROUP BY band",
        f"WITH p AS (SELECT person_id, gross_pay * 2 AS double_pay FROM hmrc.paye_employments) "
        f"SELECT CASE WHEN double_pay > {2 * CAP} THEN 'above' ELSE 'at or below' END AS band, count(*) AS n FROM p GROUP BY band",
        f"SELECT CASE WHEN a.gross_pay > {CAP} OR b.gross_pay > {CAP} THEN 'above' ELSE 'at or below' END AS band, "
        "count(*) AS n FROM hmrc.paye_employments AS a JOIN hmrc.paye_employments AS b ON a.person_id = b.person_id GROUP BY band",
    ],
    ids=["direct", "cte-arithmetic", "self-join"],
)
def test_no_query_sees_earnings_above_the_cap(ana, sql):
    out = ana.sql(sql)
    assert set(table(out)) == {"at or below"}


@pytest.fixture
def trust_with_dob(trust: Trust, trust_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trust:
    """The trust with date_of_birth registered as a dimension (the catalogue may still mark it an identifier)."""
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "catalog", catalog)
    dwp = catalog / "dwp.yaml"
    dwp.write_text(
        dwp.read_text().replace("date_of_birth: {role: direct_identifier,", "date_of_birth: {role: dimension,")
    )
    monkeypatch.setenv("TRUST_CATALOG_DIR", str(catalog))
    return Trust.open(trust_home)


def test_date_of_birth_is_only_ever_a_year(trust_with_dob, data_dir):
    ana = trust_with_dob.session("ana", "demo-employment-support")
    births = ana.sql("SELECT date_of_birth, count(*) AS n FROM dwp.uc_claims GROUP BY date_of_birth")
    assert births.rows() and all((d.month, d.day) == (1, 1) for d, _ in births.rows())
    born = (
        local(data_dir)
        .execute(
            "SELECT date_of_birth FROM dwp.uc_claims WHERE NOT opted_out AND "
            "(month(date_of_birth), day(date_of_birth)) <> (1, 1) LIMIT 1"
        )
        .fetchone()[0]
    )
    for sql in (
        f"SELECT count(*) AS n FROM dwp.uc_claims WHERE date_of_birth = DATE '{born}'",
        f"WITH d AS (SELECT date_of_birth AS born FROM dwp.uc_claims) SELECT count(*) AS n FROM d "
        f"WHERE born = DATE '{born}'",
    ):
        out = ana.sql(sql)
        assert all(cell.units == 0 for cell in out.report.cells), sql


# -- Denials, thresholds, and what is recorded ---------------------------------------------------


@pytest.mark.parametrize(
    ("project", "sql", "rule", "remedy"),
    [
        (
            "demo-uc-pilot-2024",
            "SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region",
            "trust.project_expired",
            "renew the approval",
        ),
        (
            "demo-disability-employment",
            "SELECT health_condition_group, count(*) AS n FROM dwp.pip_awards GROUP BY 1",
            "dwp.special_category",
            "purpose is health_and_disability_research",
        ),
        (
            "demo-skills-earnings",
            "SELECT region, count(*) AS n FROM dfe.learners GROUP BY region",
            "dfe.legal_gateway",
            "confirm a gateway",
        ),
        (
            "demo-employment-support",
            "SELECT provider_id, count(*) AS n FROM dfe.learners GROUP BY provider_id",
            "dfe.provider_level",
            "approve provider-level analysis",
        ),
    ],
    ids=["expired", "special-category", "gateway", "provider-level"],
)
def test_denials_name_the_rule_and_the_remedy(shared, project, sql, rule, remedy):
    with pytest.raises(trust.PolicyDenied) as info:
        shared.session("ana", project).sql(sql)
    assert info.value.rule == rule
    assert remedy in str(info.value) and "\n" not in str(info.value)
    refused = shared.audit.events(kind="query_refused")[-1]
    assert refused.payload["rule"] == rule


def test_special_category_data_for_health_research_uses_its_higher_threshold(shared):
    out = AsChecker(shared, "ana", "demo-health-research").sql(
        "SELECT health_condition_group, count(*) AS n FROM dwp.pip_awards GROUP BY health_condition_group"
    )
    assert out.decision["obligations"]["disclosure"]["min_units"] == 20
    assert all(c.status.value == "suppressed" for c in out.report.cells if c.units < 20)
    assert all(c.status.value == "ok" for c in out.report.cells if c.units >= 20)


def test_employer_level_earnings_get_hmrcs_employer_threshold(ana):
    out = ana.sql(
        "SELECT b.sic_section, sum(p.gross_pay) AS pay FROM hmrc.paye_employments AS p "
        "JOIN desnz.businesses AS b ON p.employer_id = b.employer_id GROUP BY b.sic_section"
    )
    disclosure = out.decision["obligations"]["disclosure"]
    assert disclosure["min_units"] == 20 and disclosure["dominance"]["k"] == 0.8
    assert any(rule["rule"] == "hmrc.employer_level" for rule in out.decision["fired"])
    assert all(c.status.value == "suppressed" for c in out.report.cells if c.units < 20)


def test_the_output_records_the_obligations_that_were_applied(bob):
    out = bob.sql(BY_LA)
    filters = {f["rule"]: f["expression"] for f in out.decision["obligations"]["row_filters"]}
    assert filters["dwp.opt_out"] == "NOT opted_out" and filters["trust.own_areas"].startswith(
        "la_code IN ('E08000001'"
    )
