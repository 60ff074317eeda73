"""A safe project in minutes, against a real ``trust serve``: an analyst applies through the client, the policy's
guidance blocks a bad application, the fixed one is submitted, two departments' data owners approve it in the
browser with conditions, the analyst's first query runs under the agreement with the conditions applied, an
amendment adds a member, and the public register shows the agreement without naming anyone. No file is edited.
(Expiry stopping queries needs a clock the test can move: ``tests/service/test_agreements.py``.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

import trust
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.server.launch import launch_trust
from trust.service import Trust

from .conftest import sign_in

APPLICATION = {
    "project": "uc-in-work",
    "title": "Universal Credit claimants in work, by region",
    "purpose": "employment_support",
    "legal_gateway": "dea-2017-s64-research",
    "sponsor": "DWP",
    "datasets": {
        "dwp.uc_claims": {"person_id": "To link claims to PAYE.", "region": "Outputs are by region."},
        "hmrc.paye_employments": {"person_id": "To link to claims.", "gross_pay": "Pay of claimants in work."},
    },
    "members": ["ana"],
    "outputs": "Claimants in work and their mean pay by region.",
    "expires": "2027-09-30",
    "dpia": "DPIA-2026-114",
}
QUERY = """SELECT u.region, count(DISTINCT u.person_id) AS claimants, avg(p.gross_pay) AS pay
FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region"""


class Stack:
    def __init__(self, home: Path, url: str) -> None:
        self.home, self.url = home, url
        self.clients: list[trust.Client] = []

    def token(self, user: str) -> str:
        return Trust.open(self.home).access.issue_token(user, label="browser tests").secret

    def client(self, user: str) -> trust.Client:
        c = trust.Client(self.url, token=self.token(user), progress=False)
        self.clients.append(c)
        return c


@pytest.fixture(scope="module")
def stack(departments: DepartmentServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("applications-home")
    configure_home(home, departments.endpoints)
    t = Trust.open(home)
    seed_users(t)
    t.access.add_user("ana", ("analyst", "accredited_researcher"), "DWP")
    t.access.add_user("dora", ("data_owner",), "DWP")
    t.access.add_user("hugh", ("data_owner",), "HMRC")
    t.access.add_user("eli", ("analyst",), "DWP")
    with launch_trust(home, workers=2) as server:
        s = Stack(home, server.url)
        yield s
        for c in s.clients:
            c.close()


def approve_in_browser(page: Page, application_id: str, *, row_filter: tuple[str, str] | None = None,
                       min_units: int | None = None) -> None:  # fmt: skip
    page.goto(f"/checker/applications/{application_id}")
    expect(page.get_by_role("heading", name=f"Application {application_id}")).to_be_visible()
    expect(page.locator("#no-blockers")).to_be_visible()
    page.get_by_label("Approve").check()
    if row_filter:
        page.get_by_label(f"Row filter on {row_filter[0]}").fill(row_filter[1])
    if min_units:
        page.get_by_label("Minimum units per cell", exact=False).fill(str(min_units))
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#notice-message")).to_have_text("Your decision is recorded.")


def test_apply_approve_with_conditions_query_amend_and_register(browser: Browser, stack: Stack):
    ana = stack.client("ana")
    bad = {**APPLICATION, "legal_gateway": "ssaa-1992-dwp-internal"}
    bad["datasets"] = {
        **APPLICATION["datasets"],
        "dwp.uc_claims": {**APPLICATION["datasets"]["dwp.uc_claims"], "nino": "Identity checks."},
    }
    draft = ana.apply(bad)
    messages = " ".join(b["message"] for b in draft["assessment"]["blockers"])
    assert "HMRC" in messages and "nino" in messages
    with pytest.raises(trust.TrustError, match="cannot be submitted yet"):
        ana.submit_application(draft["id"])
    assert ana.change_application(draft["id"], APPLICATION)["assessment"]["blockers"] == []

    submitted_at = time.monotonic()
    assert ana.submit_application(draft["id"])["state"] == "submitted"
    dora = sign_in(browser, stack.url, stack.token("dora"), landing="Applications for data")
    expect(dora.locator(f"#waiting tr[data-application='{draft['id']}']")).to_contain_text("uc-in-work")
    approve_in_browser(dora, draft["id"], row_filter=("dwp.uc_claims", "region = 'E12000002'"))
    expect(dora.locator("#state")).to_have_text("submitted")  # HMRC has not decided yet
    hugh = sign_in(browser, stack.url, stack.token("hugh"), landing="Applications for data")
    approve_in_browser(hugh, draft["id"], min_units=20)
    expect(hugh.locator("#state")).to_have_text("approved")
    expect(hugh.locator("#agreement")).to_contain_text("version 1")

    out = ana.sql(QUERY, project="uc-in-work")
    first_query_s = time.monotonic() - submitted_at
    assert [r[0] for r in out.rows()] == ["E12000002"]  # DWP's condition
    assert out.report.parameters.min_units == 20  # HMRC's condition
    assert first_query_s < 60, first_query_s

    amendment = ana.apply({**APPLICATION, "members": ["ana", "eli"], "amends": True})
    ana.submit_application(amendment["id"])
    approve_in_browser(dora, amendment["id"], row_filter=("dwp.uc_claims", "region = 'E12000002'"))
    approve_in_browser(hugh, amendment["id"], min_units=20)
    eli = stack.client("eli")
    assert [r[0] for r in eli.sql(QUERY, project="uc-in-work").rows()] == ["E12000002"]
    assert [v["version"] for v in ana.agreement_history("uc-in-work")] == [1, 2]

    dora.goto("/checker/requests/rel-000000000000")  # a data owner sees no release request, real or not
    expect(dora.get_by_role("heading", name="For output checkers")).to_be_visible()

    public = browser.new_context(base_url=stack.url).new_page()  # no sign-in
    public.goto("/register")
    row = public.locator("#register tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("uc-in-work")
    expect(row).to_contain_text("DWP, HMRC")
    expect(row).to_contain_text("2027-09-30")
    page_text = public.locator("body").inner_text()
    assert "ana" not in page_text.split() and "eli" not in page_text.split()
    csv_text = httpx.get(f"{stack.url}/register.csv").text
    assert csv_text.splitlines()[1].startswith("uc-in-work,") and "ana" not in csv_text
    assert httpx.get(f"{stack.url}/register.json").json()["agreements"][0]["version"] == 2


def test_an_analyst_applies_in_the_browser_and_sees_the_guidance(browser: Browser, stack: Stack):
    ana = sign_in(browser, stack.url, stack.token("ana"), landing="Applications for data")
    ana.get_by_role("link", name="Apply for data").click()
    expect(ana.get_by_role("heading", name="Apply for data")).to_be_visible()
    ana.get_by_label("Project id").fill("uc-web")
    ana.get_by_label("Title").fill("Claims by region, applied for on the web")
    ana.get_by_label("Purpose").select_option("employment_support")
    ana.get_by_label("Legal gateway").select_option("ssaa-1992-dwp-internal")
    ana.get_by_label("Intended outputs").fill("Claims by region.")
    ana.get_by_label("Until").fill("2027-06-30")
    ana.locator("summary", has_text="dwp.uc_claims").click()
    for column, reason in (("region", "Outputs are by region."), ("nino", "To check identities.")):
        ana.locator(f'[id="col-dwp.uc_claims|{column}"]').check()
        ana.get_by_label(f"Why you need {column} of dwp.uc_claims").fill(reason)
    ana.get_by_role("button", name="Save and check").click()
    expect(ana.get_by_role("heading", name="Application app-", exact=False)).to_be_visible()
    expect(ana.locator("#blockers")).to_contain_text("nino")
    expect(ana.locator("#submit-application")).to_have_count(0)  # blocked: no submit button

    ana.get_by_role("link", name="Change this draft").click()  # the datasets asked for are open already
    ana.locator('[id="col-dwp.uc_claims|nino"]').uncheck()
    ana.get_by_role("button", name="Save and check").click()
    expect(ana.locator("#no-blockers")).to_be_visible()
    ana.get_by_role("button", name="Submit to the data owners").click()
    expect(ana.locator("#state")).to_have_text("submitted")
    ana.goto("/checker/requests/rel-000000000000")  # analysts never see the checkers' request pages
    expect(ana.get_by_role("heading", name="For output checkers")).to_be_visible()
