"""A whole request in a real browser, with a return: two checkers on the pages and the analyst through the
client, a threaded comment on a cell (and a note for checkers only), a corrected output replacing the
first, the diff between rounds, and the release. A real SMTP server (aiosmtpd) and a webhook receiver,
started here, receive every notification the ``trust serve`` process sends.

With ``TRUST_SCREENSHOTS=DIR`` the test also saves the checker's pages as PNGs in DIR
(``docs/images`` for the docs: ``TRUST_SCREENSHOTS=docs/images pytest tests/browser/test_review_rounds.py``).
"""

from __future__ import annotations

import email
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, expect

from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.outputs.bundle import verify_bundle
from trust.outputs.crate import CRATE_METADATA
from trust.outputs.release import ReleaseState
from trust.server.launch import launch_trust
from trust.service.notify import SIGNATURE_HEADER, verify_signature

from .conftest import JUSTIFICATION, SMALL_AREA, Airlock, decide, sign_in

SECRET = "webhook secret for the browser test"
EMAILS = {"ana": "ana@dwp.example", "carol": "carol@ons.example", "dev": "dev@hmrc.example"}
CORRECTED = (  # the same sections, businesses counted, turnover left out
    "SELECT sic_section, count(*) AS businesses FROM desnz.businesses GROUP BY sic_section ORDER BY sic_section"
)
FIRST = "SELECT region, count(*) AS claimants FROM dwp.uc_claims GROUP BY region ORDER BY region"


@dataclass
class Received:
    mail: list[Message] = field(default_factory=list)
    hooks: list[dict] = field(default_factory=list)
    forged: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.mail.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def subjects(self, address: str) -> list[str]:
        return [" ".join(m["Subject"].split()).rsplit(" ", 1)[-1] for m in self.mail if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def told(
    departments: DepartmentServers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Airlock, Received]]:
    received = Received()
    smtp_port = _free_port()
    smtp = Controller(received, hostname="127.0.0.1", port=smtp_port)
    smtp.start()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if verify_signature(SECRET, body, self.headers.get(SIGNATURE_HEADER, "")):
                received.hooks.append(json.loads(body))
                self.send_response(204)
            else:
                received.forged += 1
                self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    home = tmp_path_factory.mktemp("rounds-home")
    configure_home(home, departments.endpoints)
    settings = home / "trust.toml"  # top-level keys go before the file's tables
    settings.write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nwebhook_urls = "http://127.0.0.1:'
        f'{hooks.server_address[1]}/trust"\nwebhook_secret = "{SECRET}"\npublic_url = "https://trust.example"\n'
        + settings.read_text()
    )
    from trust.service import Trust

    t = Trust.open(home)
    seed_users(t)
    for user in t.access.users():
        t.access.add_user(user.name, user.roles, user.organisation, email=EMAILS.get(user.name, ""))
    try:
        with launch_trust(home, workers=2) as server:
            stack = Airlock(home, server.url)
            yield stack, received
            for c in stack.clients:
                c.close()
    finally:
        hooks.shutdown()
        smtp.stop()


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.2)


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("TRUST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _open(page: Page, request_id: str) -> None:
    page.goto(f"/checker/requests/{request_id}")
    expect(page.get_by_role("heading", name=f"Release request {request_id}")).to_be_visible()


def test_a_returned_request_with_comments_a_corrected_output_and_a_diff(browser: Browser, told):
    airlock, received = told
    ana = airlock.client("ana")
    first, small = ana.sql(FIRST), ana.sql(SMALL_AREA)
    request = ana.request_release([first, small], JUSTIFICATION)

    # Carol asks about a suppressed cell, leaves a note for checkers only, and returns the request.
    carol = sign_in(browser, airlock.url, airlock.token("carol"))
    _shot(carol, "checker-queue.png")
    _open(carol, request.id)
    hidden = next(c for c in small.report.cells if c.status.value != "ok")
    form = carol.locator("#comment-form")
    form.get_by_label("About").select_option(small.id)
    form.get_by_label("Cell").fill(f"{hidden.row}:{hidden.column}")
    form.get_by_label("Comment", exact=True).fill("Why is this cell withheld? Could the sections be grouped?")
    form.get_by_role("button", name="Add comment").click()
    expect(carol.locator(".thread")).to_have_count(1)
    expect(carol.locator(".thread").first).to_contain_text(f"cell {hidden.row}:{hidden.column} of output {small.id}")
    form = carol.locator("#comment-form")
    form.get_by_label("Comment", exact=True).fill("Note for the second checker: compare with last year's release.")
    form.get_by_label("For checkers only").check()
    form.get_by_role("button", name="Add comment").click()
    expect(carol.locator(".thread.checkers-only")).to_have_count(1)
    decide(carol, first.id, "Approve")
    decide(carol, small.id, "Request changes", "Leave turnover out: too many sections are dominated.")
    carol.get_by_role("button", name="Submit review").click()
    expect(carol.locator("#state")).to_have_text("Returned for changes")

    # Ana reads the comment meant for her (not the checkers' note), answers it, and corrects the output.
    comments = ana.release_comments(request.id)
    assert [c.cell for c in comments] == [f"{hidden.row}:{hidden.column}"]
    ana.comment_release(request.id, "Grouped sections are in the corrected table.", reply_to=comments[0].id)
    corrected = ana.sql(CORRECTED)
    assert ana.replace_output(request.id, small.id, corrected.id).outputs[1].replaces == small.id
    assert ana.submit_release(request.id).round == 2

    # Dev sees what changed since round 1 and the thread with ana's reply, answers in it, and approves.
    dev = sign_in(browser, airlock.url, airlock.token("dev"))
    _open(dev, request.id)
    diff = dev.locator("#diff")
    expect(diff).to_contain_text("What changed since round 1")
    expect(diff).to_contain_text(f"Output {corrected.id} replaces {small.id}")
    gone = dev.locator(f"#changes-{corrected.id} tbody tr", has_text="(no row)")  # turnover, left out
    expect(gone).to_have_count(sum(1 for c in small.report.cells if c.column == "turnover"))
    expect(dev.locator(f"#replaces-{corrected.id}")).to_contain_text(small.id)
    thread = dev.locator(".thread").first
    expect(thread.locator(".comment")).to_have_count(2)
    expect(thread).to_contain_text("Grouped sections are in the corrected table.")
    thread.get_by_label("Reply").fill("Thanks: the corrected table is safe.")
    thread.get_by_role("button", name="Reply").click()
    expect(dev.locator(".thread").first.locator(".comment")).to_have_count(3)
    decide(dev, first.id, "Approve")
    decide(dev, corrected.id, "Approve")
    dev.get_by_role("button", name="Submit review").click()
    expect(dev.locator("#state")).to_have_text("Under review")

    _open(carol, request.id)
    expect(carol.locator("#diff")).to_contain_text("What changed since round 1")
    _shot(carol, "checker-request-round-2.png")
    decide(carol, first.id, "Approve")
    decide(carol, corrected.id, "Approve")
    carol.get_by_role("button", name="Submit review").click()
    expect(carol.locator("#state")).to_have_text("Released")

    folder = ana.download_release(request.id, Path(airlock.home) / "downloads")
    assert verify_bundle(folder) == [] and (folder / CRATE_METADATA).exists()
    assert json.loads((folder / "request.json").read_text())["replaced"] == {corrected.id: small.id}
    assert ana.release(request.id).state is ReleaseState.RELEASED

    # Every move reached the analyst and the checkers, except whoever made it.
    expected = {
        "ana@dwp.example": ["changes", "checkers", "released"],  # returned, approved, released
        "carol@ons.example": ["checking", "checking", "released"],  # she returned and approved it herself
        "dev@hmrc.example": ["checking", "changes", "checking", "checkers", "released"],
    }
    _wait(lambda: len(received.mail) >= sum(map(len, expected.values())) and len(received.hooks) >= 5, "notifications")
    assert {a: received.subjects(a) for a in expected} == expected
    assert [h["type"].split(".")[1] for h in received.hooks] == [
        "submitted",
        "returned",
        "submitted",
        "approved",
        "released",
    ]
    assert received.forged == 0 and all(h["request"] == request.id for h in received.hooks)
    link = f"https://trust.example/checker/requests/{request.id}"
    assert all(link in m.get_payload() for m in received.mail)
    events = airlock.trust().audit.events()
    assert sum(e.kind == "notification_sent" for e in events) == len(received.mail) + len(received.hooks)
    assert sum(e.kind == "release_commented" and e.payload["request"] == request.id for e in events) == 4
