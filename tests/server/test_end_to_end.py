"""The acceptance of issue 6, driven through ``trust.Client`` against real processes.

A query, a denial, a suppressed output, an unauthorised caller, a revoked token, another
analyst's output, a timed-out query; and the server answering others while a query runs.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import trust
from trust import wire
from trust.errors import NotAuthenticated
from trust.sdc.report import SUPPRESSED_MARKER
from trust.server.launch import issue_token, trust_command
from trust.service import Trust

from .conftest import DEMO_PROJECT, DWP_PROJECT, Stack

CROSS = """
SELECT u.region, count(DISTINCT u.person_id) AS claimants_in_work, avg(p.gross_pay) AS mean_pay
FROM dwp.uc_claims AS u JOIN hmrc.paye_employments AS p ON u.person_id = p.person_id
WHERE p.tax_year = '2024-25'
GROUP BY u.region ORDER BY u.region
"""
SMALL_AREA = "SELECT la_code, count(*) AS claimants FROM dwp.uc_claims WHERE region = 'E12000009' GROUP BY la_code ORDER BY la_code"
TURNOVER = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses "
    "GROUP BY sic_section ORDER BY sic_section"
)
BOB_AREAS = "SELECT la_code, count(*) AS claimants FROM dwp.uc_claims GROUP BY la_code ORDER BY la_code"
# Joining PAYE to itself on person_id multiplies rows per person: minutes of work at test scale.
LONG = """
SELECT a.tax_year, count(*) AS n
FROM hmrc.paye_employments a
JOIN hmrc.paye_employments b ON a.person_id = b.person_id
JOIN hmrc.paye_employments c ON b.person_id = c.person_id
JOIN hmrc.paye_employments d ON c.person_id = d.person_id
GROUP BY a.tax_year
"""


def test_a_query_returns_the_protected_output_with_its_provenance(ana_client: trust.Client, stack: Stack):
    out = ana_client.sql(CROSS)
    embedded = Trust.open(stack.home).session("ana", DEMO_PROJECT).sql(CROSS)
    assert isinstance(out, trust.Output)
    assert out.columns == ["region", "claimants_in_work", "mean_pay"]
    assert [r[:2] for r in out.rows()] == [r[:2] for r in embedded.rows()]  # the same service behind both
    assert out.rows()[0][2] == pytest.approx(embedded.rows()[0][2])
    assert out.report.status.value == "ok" and out.report.summary() == embedded.report.summary()
    assert set(out.fingerprints) == {"dwp.uc_claims", "hmrc.paye_employments"}
    assert out.stats["rows_scanned"] == sum(out.stats["datasets"].values()) > 0
    # Nothing that stays inside the trust travels: generated SQL, row filters, checkers' figures.
    assert out.executed_sql == "" and "row_filters" not in str(out.decision)
    assert all(c.units is None and c.detail == "" for c in out.report.cells)
    assert out.to_pandas().shape == (9, 3)


def test_a_small_area_is_withheld_and_a_dominated_cell_shows_c(ana_client: trust.Client):
    areas = ana_client.sql(SMALL_AREA)
    assert "E06000053" not in dict(areas.rows())  # Isles of Scilly: 3 claimants, not even as [c]
    assert areas.report.status.value == "ok" and "withheld" not in json.dumps(areas.report.to_json(figures=False))
    out = ana_client.sql(TURNOVER)
    shown = {r[0]: r[1:] for r in out.rows()}
    assert shown["A"][1] == SUPPRESSED_MARKER and isinstance(shown["A"][0], int)  # the count is safe, the sum not
    assert out.report.status.value == "suppressed"
    assert out.to_arrow().column("turnover").null_count == sum(1 for v in shown.values() if v[1] == SUPPRESSED_MARKER)
    assert "suppressed" in out.report.summary()
    stored = ana_client.output(out.id)  # fetched back from the trust's store
    assert stored.rows() == out.rows() and stored.suppressed == out.suppressed


def test_a_denial_comes_back_as_the_same_typed_error(bob_client: trust.Client, stack: Stack):
    sql = "SELECT region, sum(gross_pay) AS pay FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY region"
    with pytest.raises(trust.PolicyDenied) as caught:
        bob_client.sql(sql)
    exc = caught.value
    assert exc.rule == "trust.dataset_not_approved" and "hmrc.paye_employments" in exc.message
    assert exc.denials and all({"rule", "message"} <= set(d) for d in exc.denials)
    r = httpx.post(
        f"{stack.url}/v1/queries",
        json={"sql": sql, "project": DWP_PROJECT},
        headers={"Authorization": f"Bearer {stack.token('bob')}"},
    )
    assert r.status_code == 403 and r.json()["error"] == "policy_denied"


def test_a_rejected_query_carries_its_rule_and_position(ana_client: trust.Client):
    with pytest.raises(trust.NotAllowed) as caught:
        ana_client.sql("SELECT nino, count(*) AS n FROM dwp.uc_claims GROUP BY nino")
    assert isinstance(caught.value, trust.QueryRejected)
    assert caught.value.rule == "direct_identifier"
    assert isinstance(caught.value.position, tuple) and len(caught.value.position) == 2
    with pytest.raises(trust.UnknownName, match="Did you mean 'dwp.uc_claims'"):
        ana_client.sql("SELECT count(*) AS n FROM dwp.uc_claimz")


@pytest.mark.parametrize("header", [None, "Bearer lmdt_not-a-real-token", "Bearer", "Basic YW5hOmFuYQ==", "lmdt_x"])
def test_unauthorised_callers_get_401_and_nothing_else(stack: Stack, header: str | None):
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("GET", "/v1/health"),
        ("GET", "/v1/outputs"),
        ("GET", "/no/such/path"),
        ("POST", "/v1/queries"),
    ]:
        r = httpx.request(method, stack.url + path, headers=headers, json={"sql": "SELECT 1", "project": "x"})
        assert r.status_code == 401, (method, path)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json() == {
            "error": "not_authenticated",
            "type": "NotAuthenticated",
            "message": "Authentication required: send a valid bearer token (ask an administrator for one).",
        }
    with pytest.raises(NotAuthenticated):
        trust.Client(stack.url, token="lmdt_wrong").outputs()
    with pytest.raises(trust.ConfigurationError, match="TRUST_TOKEN"):
        trust.Client(stack.url, token="")


def test_a_revoked_token_stops_working_at_once(stack: Stack):
    token = issue_token(stack.home, "ana")  # `trust tokens issue ana`
    assert token.startswith("lmdt_")
    client = trust.Client(stack.url, token=token, project=DEMO_PROJECT)
    assert client.me()["user"] == "ana"
    listed = trust_command("tokens", "list", "ana", home=stack.home)
    assert "tok-" in listed.stdout and "lmdt_" not in listed.stdout  # ids only, never a token
    revoke = trust_command("tokens", "revoke", token, home=stack.home)
    assert revoke.returncode == 0, revoke.stderr
    with pytest.raises(NotAuthenticated):
        client.me()
    with pytest.raises(NotAuthenticated):
        client.sql("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region")


def test_a_disabled_user_is_locked_out(stack: Stack):
    added = trust_command("users", "add", "zed", "--organisation", "DfE", home=stack.home)
    assert added.returncode == 0, added.stderr
    client = trust.Client(stack.url, token=issue_token(stack.home, "zed"))
    assert client.me() == {"user": "zed", "roles": ["analyst"], "organisation": "DfE", "projects": []}
    assert trust_command("users", "disable", "zed", home=stack.home).returncode == 0
    with pytest.raises(NotAuthenticated):
        client.me()
    listing = trust_command("users", "list", home=stack.home).stdout
    assert any(line.split()[0] == "zed" and "disabled" in line for line in listing.splitlines()[2:])


def test_another_analysts_output_is_answered_as_missing(
    ana_client: trust.Client, bob_client: trust.Client, stack: Stack
):
    mine = ana_client.sql("SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex")
    with pytest.raises(trust.UnknownName) as forbidden:
        bob_client.output(mine.id)
    with pytest.raises(trust.UnknownName) as missing:
        bob_client.output("out-000000000000")
    # The same error and message as for an id that does not exist, but for the id echoed back.
    assert forbidden.value.message.replace(mine.id, "ID") == missing.value.message.replace("out-000000000000", "ID")
    assert "member" not in forbidden.value.message
    assert mine.id not in {o.id for o in bob_client.outputs()}
    assert all(o.project == DWP_PROJECT for o in bob_client.outputs())
    assert mine.id in {o.id for o in ana_client.outputs(project=DEMO_PROJECT)}
    with pytest.raises(trust.NotAuthorised):
        bob_client.outputs(project=DEMO_PROJECT)
    denied = Trust.open(stack.home).audit.events(kind="access_denied")
    assert any(e.actor == "bob" and e.payload.get("output") == mine.id for e in denied)
    # An output checker may read any project's output (they review releases).
    assert stack.client("carol").output(mine.id).rows() == mine.rows()


def test_someone_elses_query_cannot_be_polled(stack: Stack):
    headers = {"Authorization": f"Bearer {stack.token('ana')}", "Idempotency-Key": "k-1"}
    body = {"sql": "SELECT sex, count(*) AS n FROM dwp.uc_claims GROUP BY sex", "project": DEMO_PROJECT}
    first = httpx.post(f"{stack.url}/v1/queries", json=body, headers=headers, params={"wait": 0})
    again = httpx.post(f"{stack.url}/v1/queries", json=body, headers=headers, params={"wait": 5})
    query = first.json().get("query") or first.json()["output"]["query"]
    assert again.status_code == 200 and again.json()["output"]["query"] == query  # joined, not run twice
    bob = {"Authorization": f"Bearer {stack.token('bob')}"}
    r = httpx.get(f"{stack.url}/v1/queries/{query}", headers=bob)
    assert r.status_code == 404 and r.json()["error"] == "unknown_name"


def test_outputs_travel_as_arrow_or_json(stack: Stack, ana_client: trust.Client):
    out = ana_client.sql(TURNOVER)
    auth = {"Authorization": f"Bearer {stack.token('ana')}"}
    as_json = httpx.get(f"{stack.url}/v1/outputs/{out.id}", headers=auth)
    assert as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    assert body["columns"] == ["sic_section", "businesses", "turnover"]
    farming = next(r for r in body["rows"] if r[0] == "A")
    assert farming[2] is None  # suppressed cells are null; the report says why
    assert any(c["status"] == "suppressed" and "units" not in c for c in body["output"]["report"]["cells"])
    as_arrow = httpx.get(f"{stack.url}/v1/outputs/{out.id}", headers={**auth, "Accept": wire.ARROW_STREAM})
    assert as_arrow.headers["content-type"] == wire.ARROW_STREAM
    assert wire.output_from_arrow(as_arrow.content).rows() == out.rows()


def test_the_catalogue_says_what_my_projects_may_use(ana_client: trust.Client, bob_client: trust.Client):
    catalogue = ana_client.catalog()
    uc = catalogue.get("dwp.uc_claims")
    assert DEMO_PROJECT in uc.usable_by and uc.rows and uc.column("nino").role == "direct_identifier"
    assert uc.column("award_amount").type == "DOUBLE"
    assert bob_client.catalog().get("hmrc.paye_employments").usable_by == ()
    assert [d.id for d in ana_client.catalog(search="learner")] == ["dfe.learners"]
    assert ana_client.dataset("dfe.learners", project=DEMO_PROJECT).usable_by == (DEMO_PROJECT,)
    with pytest.raises(trust.NotAuthorised):
        bob_client.catalog(project=DEMO_PROJECT)
    with pytest.raises(trust.UnknownName, match="Did you mean"):
        ana_client.dataset("dwp.uc_claim")
    me = bob_client.me()
    assert me["user"] == "bob" and [p["id"] for p in me["projects"]] == [DWP_PROJECT]
    assert bob_client.health()["status"] == "ok"


def test_several_analysts_at_once(stack: Stack):
    clients = [stack.client(u, project=p) for u, p in [("ana", DEMO_PROJECT), ("bob", DWP_PROJECT)] * 3]
    queries = [CROSS, BOB_AREAS] * 3
    with ThreadPoolExecutor(len(clients)) as pool:
        outs = list(pool.map(lambda cq: cq[0].sql(cq[1]), zip(clients, queries)))
    assert [o.user for o in outs] == ["ana", "bob"] * 3
    assert len({o.id for o in outs}) == 6
    assert all([r[:2] for r in o.rows()] == [r[:2] for r in outs[i % 2].rows()] for i, o in enumerate(outs))


def test_a_query_over_its_time_limit_is_stopped_and_the_server_carries_on(stack: Stack, strict_server):
    url = strict_server.url
    seen: list[dict] = []
    slow = stack.client("ana", url=url, project=DEMO_PROJECT, progress=seen.append)
    other = stack.client("bob", url=url, project=DWP_PROJECT)
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:  # the server answers others while the long query runs
        while not done.is_set():
            t = time.perf_counter()
            other.health()
            latencies.append(time.perf_counter() - t)
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    started = time.perf_counter()
    try:
        with pytest.raises(trust.QueryTimeout, match="2 s limit") as caught:
            slow.sql(LONG)
    finally:
        done.set()
        prober.join()
    assert time.perf_counter() - started < 15
    assert caught.value.context.get("timeout_s") == 2
    assert seen and seen[0]["timeout_s"] == 2.0 and seen[0]["state"] in {"queued", "running"}  # progress shown
    # Answered throughout, not queued behind the query (bounds loose enough for a busy CI machine).
    assert len(latencies) >= 3 and statistics.median(latencies) < 0.5 and max(latencies) < 1.5, latencies
    assert other.sql(BOB_AREAS).rows()  # and carries on
    failed = Trust.open(stack.home).audit.events(kind="query_failed")
    assert any(e.payload.get("error") == "QueryTimeout" for e in failed)
