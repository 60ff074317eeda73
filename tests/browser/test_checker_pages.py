"""The airlock in a real browser: submission to release with two checkers, a rejection, a
self-review attempt and forged forms, against a real ``trust serve`` process.
"""

from __future__ import annotations

import csv
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect

import trust
from trust.outputs.bundle import verify_bundle
from trust.outputs.release import ReleaseState
from trust.sdc.report import SUPPRESSED_MARKER

from .conftest import JUSTIFICATION, Airlock, decide, sign_in


def _events(airlock: Airlock, request_id: str) -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.actor, e.payload.get("action", ""))
        for e in airlock.trust().audit.events()
        if e.payload.get("request") == request_id
    ]


def test_two_checkers_take_a_request_from_submission_to_release(browser: Browser, airlock: Airlock, tmp_path: Path):
    ana = airlock.client("ana")
    small = ana.output(airlock.small)
    request = ana.request_release([airlock.cross, small], JUSTIFICATION)
    assert request.state is ReleaseState.SUBMITTED and request.approvals_needed == 2

    carol = sign_in(browser, airlock.url, airlock.token("carol"))
    row = carol.locator(f"#queue tr[data-request='{request.id}']")
    expect(row).to_contain_text("0 of 2")
    row.get_by_role("link", name=f"Review {request.id}").click()
    expect(carol.get_by_role("heading", name=f"Release request {request.id}")).to_be_visible()
    expect(carol.locator("#justification")).to_have_text(JUSTIFICATION)

    # The small areas: suppressed cells coloured, with the figures a checker needs.
    hidden = [c for c in small.report.cells if c.status.value != "ok"]
    cells = carol.locator(f"#table-{airlock.small} td.cell-suppressed")
    expect(cells).to_have_count(len(hidden))
    expect(cells.first).to_contain_text(SUPPRESSED_MARKER)
    expect(cells.first).to_contain_text("units")
    colour = cells.first.evaluate("cell => getComputedStyle(cell).backgroundColor")
    ok_colour = carol.locator(f"#table-{airlock.small} td.cell-ok").first.evaluate(
        "cell => getComputedStyle(cell).backgroundColor"
    )
    assert colour != ok_colour
    figures = carol.locator(f"#figures-{airlock.small}")
    expect(figures).to_contain_text("dominance")
    expect(carol.locator(f"#notes-{airlock.small}")).to_contain_text("perturbed")  # how the numbers were published
    expect(carol.locator(".truth").first).to_contain_text("true ")  # and the true value beside each one
    expect(figures.locator("tbody tr")).to_have_count(len(hidden))
    expect(carol.locator(f"#table-{airlock.cross} td.cell-ok").first).to_contain_text("units")

    # Plain accessible HTML: a language, one h1, a label for every control, headers on every table.
    assert carol.evaluate("""() => document.documentElement.lang === 'en'
        && document.querySelectorAll('h1').length === 1
        && [...document.querySelectorAll('input:not([type=hidden]), textarea')].every(e => e.labels.length > 0)
        && [...document.querySelectorAll('table')].every(t => t.querySelector('th'))""")
    assert carol.evaluate("() => document.scripts.length") == 0

    decide(carol, airlock.cross, "Approve")
    decide(carol, airlock.small, "Approve", "The suppressed areas are below ten units; the rest are safe.")
    carol.get_by_role("button", name="Submit review").click()
    expect(carol.locator("#notice-message")).to_have_text("Your review is recorded.")
    expect(carol.locator("#state")).to_have_text("Under review")
    expect(carol.locator("#cannot-review")).to_contain_text("already reviewed")

    dev = sign_in(browser, airlock.url, airlock.token("dev"))
    expect(dev.locator(f"#queue tr[data-request='{request.id}']")).to_contain_text("1 of 2")
    dev.goto(f"/checker/requests/{request.id}")
    expect(dev.locator("#reviews")).to_have_count(0)  # carol's review stays hidden until dev has decided
    decide(dev, airlock.cross, "Approve")
    decide(dev, airlock.small, "Approve")
    dev.get_by_role("button", name="Submit review").click()
    expect(dev.locator("#state")).to_have_text("Released")
    expect(dev.locator("#reviews")).to_contain_text("carol")

    released = ana.release(request.id)
    assert released.state is ReleaseState.RELEASED and released.bundle_sha256
    assert [h.action for h in released.history] == ["create", "submit", "review", "approve", "release"]
    folder = ana.download_release(request.id, tmp_path)
    assert verify_bundle(folder) == []
    with open(folder / "outputs" / airlock.small / "table.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["sic_section", "businesses", "turnover"]
    assert sum(r[2] == SUPPRESSED_MARKER for r in rows[1:]) == len(hidden)
    sheet = load_workbook(folder / "outputs" / airlock.small / "table.xlsx")["table"]
    assert sum(c.value == SUPPRESSED_MARKER for c in sheet["C"]) == len(hidden)
    about = json.loads((folder / "request.json").read_text())
    assert [a["name"] for a in about["approvers"]] == ["carol", "dev"] and about["justification"] == JUSTIFICATION
    disclosure = json.loads((folder / "outputs" / airlock.small / "disclosure.json").read_text())
    assert all("units" not in c for c in disclosure["cells"])  # checkers' figures never leave
    assert "withheld" not in json.dumps(disclosure)  # nor whether any small group exists
    decision = json.loads((folder / "outputs" / airlock.small / "decision.json").read_text())
    public = {"min_units": 10, "rounding_base": None,
              "perturbation": {"method": "noise", "max_deviation": 10, "variance": 2.0, "top_share": 0.2,
                               "cell_share": 0.5, "magnitude_variance": 0.5, "small_values": 0}}  # fmt: skip
    assert decision["disclosure"] == public  # the perturbation's bounds are public; dominance and p% stay inside
    cross = (folder / "outputs" / airlock.cross / "decision.json").read_text()
    assert "opted_out" not in cross and "dwp.uc_claims" in cross  # row filters named, never spelled out

    kinds = _events(airlock, request.id)
    assert [k for k in kinds if k[0] == "release_transition"] == [
        ("release_transition", "ana", "submit"),
        ("release_transition", "carol", "review"),
        ("release_transition", "dev", "approve"),
        ("release_transition", "trust", "release"),
    ]
    assert ("release_reviewed", "carol", "") in kinds and ("release_downloaded", "ana", "") in kinds
    assert airlock.trust().audit.verify()[0]


def test_a_rejection_stops_the_request(browser: Browser, airlock: Airlock):
    ana = airlock.client("ana")
    request = ana.request_release([airlock.small], JUSTIFICATION)
    carol = sign_in(browser, airlock.url, airlock.token("carol"))
    carol.goto(f"/checker/requests/{request.id}")

    decide(carol, airlock.small, "Reject")  # without saying why: refused, nothing recorded
    carol.get_by_role("button", name="Submit review").click()
    expect(carol.get_by_role("alert")).to_contain_text("Say why you reject")
    assert ana.release(request.id).state is ReleaseState.SUBMITTED

    decide(carol, airlock.small, "Reject", "Area totals with the published regional totals recover the [c] cells.")
    carol.get_by_role("button", name="Submit review").click()
    expect(carol.locator("#state")).to_have_text("Rejected")

    dev = sign_in(browser, airlock.url, airlock.token("dev"))
    expect(dev.locator(f"#queue tr[data-request='{request.id}']")).to_have_count(0)
    expect(dev.locator(f"#decided tr[data-request='{request.id}']")).to_contain_text("Rejected")
    dev.goto(f"/checker/requests/{request.id}")
    expect(dev.locator("#cannot-review")).to_contain_text("not waiting for review")

    rejected = ana.release(request.id)
    assert rejected.state is ReleaseState.REJECTED and rejected.reviews[0].comment.startswith("Area totals")
    with pytest.raises(trust.InvalidTransition):
        ana.download_release(request.id)
    with pytest.raises(trust.InvalidTransition, match="cannot become submitted"):
        ana.submit_release(request.id)


def test_the_author_cannot_review_their_own_request(browser: Browser, airlock: Airlock):
    ana_client = airlock.client("ana")  # ana is an analyst and, on this trust, an output checker too
    request = ana_client.request_release([airlock.cross], JUSTIFICATION)
    ana = sign_in(browser, airlock.url, airlock.token("ana"))
    expect(ana.locator(f"#queue tr[data-request='{request.id}']")).to_contain_text("its author can never review it")
    ana.goto(f"/checker/requests/{request.id}")
    expect(ana.locator("#cannot-review")).to_contain_text("its author can never review it")
    expect(ana.locator("#review-form")).to_have_count(0)

    # Posting the form anyway, with her own valid session and CSRF token: refused all the same.
    csrf = ana.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    forced = ana.context.request.post(
        f"{airlock.url}/checker/requests/{request.id}/review",  # her cookies go along
        form={"csrf": csrf, f"decision-{airlock.cross}": "approve"},
        headers={"Origin": airlock.url},
    )
    assert forced.status == 403 and "its author can never review it" in forced.text()
    with pytest.raises(trust.NotAuthorised, match="its author can never review it"):
        ana_client.review_release(request.id, {airlock.cross: "approve"})
    after = airlock.trust().airlock.get("carol", request.id)
    assert after.state is ReleaseState.SUBMITTED and after.reviews == ()


@pytest.fixture
def attacker() -> Iterator[tuple[str, dict[str, str]]]:
    """Another origin on the same site (127.0.0.1, another port) serving pages that post to the trust."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()


def test_forged_forms_are_refused(browser: Browser, airlock: Airlock, attacker: tuple[str, dict[str, str]]):
    origin, pages = attacker
    request = airlock.client("ana").request_release([airlock.cross], JUSTIFICATION)
    carol = sign_in(browser, airlock.url, airlock.token("carol"))
    action = f"{airlock.url}/checker/requests/{request.id}/review"
    pages["/approve.html"] = (
        f"<form method=post action='{action}'><input name='decision-{airlock.cross}' value=approve></form>"
        "<script>document.forms[0].submit()</script>"
    )
    pages["/approve-with-guess.html"] = pages["/approve.html"].replace(
        "</form>", "<input name=csrf value=guessed></form>"
    )

    for page in ("/approve.html", "/approve-with-guess.html"):  # the session cookie goes along: same site
        carol.goto(origin + page)
        expect(carol.get_by_role("heading", name="Form refused")).to_be_visible()
        assert carol.url.startswith(airlock.url)

    # From the trust's own origin, with the cookie but a wrong token: refused too.
    forged = carol.context.request.post(
        action, form={"csrf": "wrong", f"decision-{airlock.cross}": "approve"}, headers={"Origin": airlock.url}
    )
    assert forged.status == 403 and "Form refused" in forged.text()
    carol.goto(f"/checker/requests/{request.id}")

    after = airlock.trust().airlock.get("carol", request.id)
    assert after.state is ReleaseState.SUBMITTED and after.reviews == ()
    refusals = [e for e in airlock.trust().audit.events(kind="csrf_refused") if e.actor == "carol"]
    assert len(refusals) == 3 and all(e.payload["path"].endswith("/review") for e in refusals)

    # The real form still works afterwards.
    decide(carol, airlock.cross, "Approve")
    carol.get_by_role("button", name="Submit review").click()
    expect(carol.locator("#state")).to_have_text("Under review")


def test_only_checkers_sign_in_and_pages_need_a_session(browser: Browser, airlock: Airlock):
    page = browser.new_context(base_url=airlock.url).new_page()
    response = page.goto("/checker/requests/rel-000000000000")
    assert response is not None and page.url.endswith("/checker/login?next=%2Fchecker%2Frequests%2Frel-000000000000")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.get_by_label("Token").fill(airlock.token("olive"))  # a policy owner: no part in these pages
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Only output checkers, data owners and analysts sign in")
    page.get_by_label("Token").fill("lmdt_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Authentication required")

    carol = sign_in(browser, airlock.url, airlock.token("carol"))
    cookies = {c["name"]: c for c in carol.context.cookies()}
    session = cookies["trust_checker"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/checker"
    assert carol.evaluate("() => document.cookie") == ""  # no script can read it
    carol.get_by_role("button", name="Sign out").click()
    expect(carol.get_by_role("heading", name="Sign in to check outputs")).to_be_visible()
    carol.goto("/checker/")
    expect(carol.get_by_role("heading", name="Sign in to check outputs")).to_be_visible()
