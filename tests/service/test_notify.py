"""Notifications of release requests: a real SMTP server (aiosmtpd) and a real webhook receiver (an HTTP
server checking each body's signature) receive one message per recipient for every submit, return,
approval, rejection and release; every delivery is an audit event; a receiver that fails is tried
again and, in the end, given up on with an audit event; a notification is queued exactly once even
when two notifiers run."""

from __future__ import annotations

import email
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from trust.audit.kinds import EventKind
from trust.demo.environment import seed_users
from trust.outputs.release import ReleaseState
from trust.service import Trust
from trust.service.notify import SIGNATURE_HEADER, Notifier, NotifySettings, verify_signature

from ..outputs.conftest import JUSTIFICATION, store_output

SECRET = "a shared secret for the webhook"
EMAILS = {"ana": "ana@dwp.example", "carol": "carol@ons.example", "dev": "dev@hmrc.example", "olive": ""}


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [" ".join(m["Subject"].split()) for m in self.messages if m["To"] == address]  # unfolded


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd connects to its own port to see it is up, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class Hooks:
    bodies: list[dict] = field(default_factory=list)
    forged: int = 0
    status: int = 204


@pytest.fixture
def webhook() -> Iterator[tuple[Hooks, str]]:
    hooks = Hooks()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's handler name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not verify_signature(SECRET, body, self.headers.get(SIGNATURE_HEADER, "")):
                hooks.forged += 1
                self.send_response(401)
            else:
                if hooks.status < 300:
                    hooks.bodies.append(json.loads(body))
                self.send_response(hooks.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hooks, f"http://127.0.0.1:{server.server_address[1]}/hooks/trust"
    finally:
        server.shutdown()


@pytest.fixture
def told(trust_home: Path, smtp, webhook) -> Trust:
    (_, port), (_, url) = smtp, webhook
    (trust_home / "trust.toml").write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_from = "trust@lmdt.example"\n'
        f'webhook_urls = "{url}"\nwebhook_secret = "{SECRET}"\npublic_url = "https://trust.example"\n'
    )
    t = Trust.open(trust_home)
    seed_users(t)
    for user in t.access.users():
        t.access.add_user(user.name, user.roles, user.organisation, email=EMAILS.get(user.name, ""))
    return t


def notifier(trust: Trust, **kw) -> Notifier:
    return Notifier(trust.store, trust.audit, NotifySettings.from_config(trust.config), project=trust._project, **kw)


def test_every_move_of_a_request_reaches_the_analyst_and_the_checkers(told: Trust, smtp, webhook):
    (inbox, _), (hooks, _) = smtp, webhook
    out = store_output(told)
    request = told.airlock.request("ana", [out.id], JUSTIFICATION)  # submitted
    told.airlock.review("carol", request.id, {out.id: ("changes", "Round the counts to tens.")})  # returned
    told.airlock.submit("ana", request.id)  # submitted again, round 2
    told.airlock.review("carol", request.id, {out.id: ("approve", "")})  # under review: nobody is told
    done = told.airlock.review("dev", request.id, {out.id: ("approve", "")})  # approved, then released
    assert done.state is ReleaseState.RELEASED

    sent = told.notifier.run_once()
    # submitted: carol, dev; returned: ana, dev; submitted: carol, dev; approved: ana, carol; released: all three
    assert sent == 2 + 2 + 2 + 2 + 3 + 5  # e-mails, then one webhook per move
    word = lambda s: s.split(f"{request.id} ", 1)[1]  # noqa: E731
    assert [word(s) for s in inbox.to("ana@dwp.example")] == [
        "returned for changes",
        "approved by two output checkers",
        "released",
    ]
    assert [word(s) for s in inbox.to("carol@ons.example")] == [
        "submitted for output checking",
        "submitted for output checking",
        "approved by two output checkers",
        "released",
    ]
    assert len(inbox.to("dev@hmrc.example")) == 4 and not inbox.to("")
    first = next(m for m in inbox.messages if m["To"] == "ana@dwp.example")
    text = first.get_payload()
    assert f"https://trust.example/checker/requests/{request.id}" in text and "by carol" in text
    assert first["From"] == "trust@lmdt.example"
    for number in (100, 98, 107, 105):  # the output's published and true values never go out
        assert not any(re.search(rf"(?<![0-9a-f]){number}(?![0-9a-f])", m.get_payload()) for m in inbox.messages)

    assert [(b["type"], b["round"]) for b in hooks.bodies] == [
        ("release_request.submitted", 1),
        ("release_request.returned", 1),
        ("release_request.submitted", 2),
        ("release_request.approved", 2),
        ("release_request.released", 2),
    ]
    assert hooks.forged == 0 and all(b["request"] == request.id for b in hooks.bodies)

    events = told.audit.events()
    delivered = [e.payload for e in events if e.kind == EventKind.NOTIFICATION_SENT]
    assert len(delivered) == sent
    assert {d["recipient"] for d in delivered if d["channel"] == "email"} == {
        "ana@dwp.example",
        "carol@ons.example",
        "dev@hmrc.example",
    }
    assert told.audit.verify()[0]
    assert told.notifier.run_once() == 0  # each move is told once


def test_a_failing_receiver_is_tried_again_then_given_up_on_with_an_audit_event(told: Trust, webhook):
    hooks, _ = webhook
    hooks.status = 503
    out = store_output(told)
    told.airlock.request("ana", [out.id], JUSTIFICATION)
    quick = notifier(told, retry_after_s=(0.0, 0.0))
    quick.run_once()  # e-mails go; the webhook fails (attempt 1)
    assert hooks.bodies == [] and not [e for e in told.audit.events() if e.kind == EventKind.NOTIFICATION_FAILED]
    hooks.status = 204
    quick.run_once()  # attempt 2 succeeds
    assert [b["type"] for b in hooks.bodies] == ["release_request.submitted"]

    hooks.status = 500
    told.airlock.request("ana", [store_output(told).id], JUSTIFICATION)
    for _ in range(3):  # attempts 1, 2, 3: the last is given up on
        quick.run_once()
    failed = [e.payload for e in told.audit.events() if e.kind == EventKind.NOTIFICATION_FAILED]
    assert len(failed) == 1 and failed[0]["channel"] == "webhook" and "HTTP 500" in failed[0]["error"]
    hooks.status = 204
    assert quick.run_once() == 0  # given up on: not sent again


def test_two_notifiers_queue_and_send_each_notification_once(told: Trust, smtp):
    inbox, _ = smtp
    out = store_output(told)
    told.airlock.request("ana", [out.id], JUSTIFICATION)
    a, b = notifier(told), notifier(told)
    threads = [threading.Thread(target=n.run_once) for n in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["To"] for m in inbox.messages) == ["carol@ons.example", "dev@hmrc.example"]


def test_a_webhook_signature_is_checked():
    body = b'{"type": "release_request.released"}'
    from trust.service.notify import sign

    header = sign(SECRET, body, 1_800_000_000)
    assert verify_signature(SECRET, body, header, now=1_800_000_010)
    assert not verify_signature("another secret", body, header, now=1_800_000_010)
    assert not verify_signature(SECRET, body + b" ", header, now=1_800_000_010)
    assert not verify_signature(SECRET, body, header, now=1_800_000_000 + 3600)  # a replay, an hour later
    assert not verify_signature(SECRET, body, "v1=00", now=1_800_000_010)


def test_no_notifications_without_a_server_or_webhook(trust_home: Path):
    t = Trust.open(trust_home)
    seed_users(t)
    t.airlock.request("ana", [store_output(t).id], JUSTIFICATION)
    assert t.notifier.run_once() == 0
    with t.store.read() as tx:
        assert tx.notifications.cursor() == 0


def test_an_e_mail_address_that_is_not_one_is_refused(told: Trust):
    with pytest.raises(Exception, match="not an e-mail address"):
        told.access.add_user("erin", ("analyst",), "DfE", email="erin at dfe")
    told.access.add_user("ana", ("analyst",), "DWP")  # updating without an address keeps it
    assert {u.name: u.email for u in told.access.users()}["ana"] == "ana@dwp.example"


def test_an_agreement_about_to_end_is_announced_once_to_its_applicant_members_and_data_owners(
    told: Trust, smtp, webhook
):
    from tests.service.test_agreements import GOOD

    (inbox, _), (hooks, _) = smtp, webhook
    told.access.add_user("ana", ("analyst", "accredited_researcher"), "DWP")
    told.access.add_user("dora", ("data_owner",), "DWP", email="dora@dwp.example")
    told.access.add_user("hugh", ("data_owner",), "HMRC", email="hugh@hmrc.example")
    told.access.add_user("fay", ("data_owner",), "DfE", email="fay@dfe.example")  # DfE's data is not shared
    app = told.agreements.draft("ana", GOOD)
    told.agreements.submit("ana", app.id)
    told.agreements.decide("dora", app.id, "approve")
    told.agreements.decide("hugh", app.id, "approve")
    early = notifier(told, today=lambda: "2027-08-01")  # 60 days before it ends: nothing yet
    early.run_once()
    assert not [m for m in inbox.messages if "ends on" in m["Subject"]]
    late = notifier(told, today=lambda: "2027-09-10", departments_of=told._departments_of)
    late.run_once()
    ending = sorted(m["To"] for m in inbox.messages if "ends on 2027-09-30" in " ".join(m["Subject"].split()))
    assert ending == ["ana@dwp.example", "dora@dwp.example", "hugh@hmrc.example"]
    assert (
        "trust apply --amends uc-in-work"
        in next(
            m for m in inbox.messages if m["To"] == "dora@dwp.example" and "ends on" in " ".join(m["Subject"].split())
        ).get_payload()
    )
    assert [b["type"] for b in hooks.bodies if b["type"] == "agreement.expiring"] == ["agreement.expiring"]
    late.run_once()  # once per version
    assert len([m for m in inbox.messages if "ends on" in " ".join(m["Subject"].split())]) == 3
