"""Consistent perturbation end to end, against the real department servers (DESIGN section 7).

The same people get the same published number whoever asks, in whichever project, however the query is
written, and after a restart; HAVING and LIMIT see published numbers; the row limit counts only rows that
could be shown; the record-key secret never leaves the trust; and an analyst receives the same output
from every interface.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import trust as trust_pkg
from tests.views import checker_view
from trust.demo.environment import configure_home, seed_users
from trust.errors import DisclosureBlocked, QueryRejected
from trust.server.launch import launch_trust
from trust.service import Trust

DEMO = "demo-employment-support"
SECOND = "demo-disability-employment"  # ana's other project reading dwp.uc_claims
REGIONS = "SELECT region, count(*) AS n, sum(award_amount) AS awards, avg(award_amount) AS mean FROM dwp.uc_claims GROUP BY region"


def _by_key(out) -> dict:
    return {row[0]: row[1:] for row in out.rows()}


def test_the_same_people_get_the_same_number_however_asked_and_by_whom(trust: Trust):
    ana = trust.session("ana", DEMO)
    base = _by_key(ana.sql(REGIONS))
    spellings = [
        "SELECT r AS region, count(*) AS n, sum(award_amount) AS awards, avg(award_amount) AS mean "
        "FROM (SELECT region AS r, award_amount FROM dwp.uc_claims) t GROUP BY r",
        "SELECT region, sum(1) AS n, sum(award_amount + 0) AS awards, avg(award_amount) AS mean FROM dwp.uc_claims "
        "WHERE award_amount IS NOT NULL OR award_amount IS NULL GROUP BY 1",
        "SELECT u.region, count(DISTINCT u.person_id) AS n, sum(u.award_amount) AS awards, avg(u.award_amount) AS mean "
        "FROM dwp.uc_claims AS u WHERE u.region LIKE 'E%' GROUP BY 1",
    ]
    for sql in spellings:
        assert _by_key(ana.sql(sql)) == base, sql
    assert _by_key(trust.session("ana", SECOND).sql(REGIONS)) == base  # another project
    women = _by_key(ana.sql("SELECT region, count(*) AS n FROM dwp.uc_claims WHERE sex = 'F' GROUP BY region"))
    conditional = _by_key(
        ana.sql("SELECT region, sum(CASE WHEN sex = 'F' THEN 1 ELSE 0 END) AS n FROM dwp.uc_claims GROUP BY region")
    )
    assert women == conditional  # a conditional count of the same people is the same count
    true = {r[0]: c.figures["value"] for r, c in zip(checker_view(trust, ana.sql(REGIONS)).rows(),
                                                      checker_view(trust, ana.sql(REGIONS)).report.cells)}  # fmt: skip
    assert any(base[k][0] != v for k, v in true.items())  # and it is noise, not the true count


def test_the_numbers_survive_a_restart(trust: Trust, trust_home: Path):
    before = _by_key(trust.session("ana", DEMO).sql(REGIONS))
    again = Trust.open(trust_home)  # the secret is the trust's own, kept with its state
    assert _by_key(again.session("ana", DEMO).sql(REGIONS)) == before


def test_counts_move_by_at_most_the_public_bound(trust: Trust):
    out = trust.session("ana", DEMO).sql("SELECT la_code, sex, count(*) AS n FROM dwp.uc_claims GROUP BY 1, 2")
    noise = out.report.parameters.noise
    assert noise is not None and noise.max_deviation == 10  # public: sent with every output
    checked = checker_view(trust, out)
    moved = [abs(c.figures["published"] - c.figures["value"]) for c in checked.report.cells]
    assert moved and max(moved) <= noise.max_deviation and any(moved)


def test_having_and_limit_see_published_numbers(trust: Trust):
    ana = trust.session("ana", DEMO)
    every = _by_key(ana.sql("SELECT la_code, count(*) AS n FROM dwp.uc_claims GROUP BY la_code"))
    threshold = sorted(v[0] for v in every.values())[len(every) // 2]
    kept = _by_key(
        ana.sql(f"SELECT la_code, count(*) AS n FROM dwp.uc_claims GROUP BY la_code HAVING count(*) >= {threshold}")
    )
    assert kept == {k: v for k, v in every.items() if v[0] >= threshold}  # exactly the published decision
    limited = ana.sql(
        f"SELECT la_code, count(*) AS n FROM dwp.uc_claims GROUP BY la_code HAVING count(*) >= {threshold} "
        "ORDER BY la_code LIMIT 3"
    )
    assert [r[0] for r in limited.rows()] == sorted(kept)[:3]
    with pytest.raises(QueryRejected) as refused:
        ana.sql("SELECT la_code, count(*) AS n FROM dwp.uc_claims GROUP BY la_code HAVING sum(award_amount) > 10")
    assert refused.value.rule == "having_aggregate"


def test_the_row_limit_counts_only_rows_that_could_be_shown(trust_home: Path, departments):
    # Nine regions and a tenth, tiny group: padded to exactly the limit, the small group must change nothing.
    configure_home(trust_home, departments.endpoints, max_output_groups=9)
    t = Trust.open(trust_home)
    seed_users(t)
    ana = t.session("ana", DEMO)
    answers = []
    for threshold in (5, 1e12):  # three claimants in Scilly get more than 5; none more than 1e12
        sql = ("SELECT CASE WHEN la_code = 'E06000053' AND award_amount > " + str(threshold) + " THEN 'X' ELSE region "
               "END AS grp, count(*) AS n FROM dwp.uc_claims GROUP BY 1")  # fmt: skip
        answers.append(sorted(r[0] for r in ana.sql(sql).rows()))
    assert answers[0] == answers[1] and len(answers[0]) == 9
    with pytest.raises(DisclosureBlocked) as blocked:
        ana.sql("SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY 1, 2")  # 18 large rows
    assert "more than 9 rows" in blocked.value.message


def test_the_record_key_secret_never_leaves_the_trust(trust: Trust, trust_home: Path):
    ana = trust.session("ana", DEMO)
    out = ana.sql(REGIONS)
    secret = trust.queries.record_key_secret()
    stored = checker_view(trust, out)
    assert "$trust_key" in stored.executed_sql and secret not in stored.executed_sql
    for path in trust_home.rglob("*"):
        if path.is_file() and not path.name.startswith("state.db"):  # the database itself: below, table by table
            assert secret.encode() not in path.read_bytes(), path
    with sqlite3.connect(trust_home / "state.db") as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        holders = [
            t for t in tables if any(secret in str(v) for row in con.execute(f'SELECT * FROM "{t}"') for v in row)
        ]
    assert holders == ["trust_secrets"]
    for sql, rule in (
        ("SELECT region, count(*) FROM dwp.uc_claims WHERE $trust_key = 'x' GROUP BY region", "parameter"),
        ("SELECT region, sha256(region) AS h, count(*) FROM dwp.uc_claims GROUP BY 1, 2", "not_on_allow_list"),
    ):
        with pytest.raises(QueryRejected) as refused:
            ana.sql(sql)
        assert refused.value.rule == rule


def test_every_interface_gives_the_analyst_the_same_output(trust: Trust, trust_home: Path):
    sql = (
        "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses GROUP BY 1 "
        "ORDER BY 1"
    )
    embedded = trust.session("ana", DEMO).sql(sql)
    token = trust.access.issue_token("ana", label="perturbation tests").secret
    with launch_trust(trust_home, workers=2) as server, trust_pkg.Client(server.url, token=token, project=DEMO) as c:
        remote = c.sql(sql)
    assert remote.rows() == embedded.rows() and remote.suppressed == embedded.suppressed
    assert any(any(column) for column in embedded.suppressed)  # a dominated sector: [c] on both
    assert remote.report.to_json(figures=False) == embedded.report.to_json(figures=False)
    assert str(remote) == str(embedded)
    for out in (embedded, remote):
        assert out.executed_sql == "" and out.report.notes == ()
        assert all(c.rule is None and c.units is None and not c.figures for c in out.report.cells)
        assert out.decision["obligations"] == {"disclosure": out.report.parameters.public_json()}
