"""Notifications of release requests (submitted, returned, approved, rejected and released), and of agreements
about to expire, by e-mail (SMTP) and by webhook (JSON, signed with a shared secret).

Notifications follow from the audit: every move of a request is a ``release_transition`` event,
written in the transaction that moves it (``trust.service.airlock.set_status``). The notifier reads
those events after its cursor and, in one transaction, stores what each should say to whom (the
outbox, ``trust.store.notifications``) and moves the cursor; then it delivers what is due, marking
each sent or to be retried later, and records every delivery and every notification given up on as
an audit event. So a crash loses nothing: an event is turned into notifications exactly once, and a
notification is sent at least once (at most once more after a crash mid-delivery).

Who is told: the request's author and its output checkers, except the person who made the move.
The checkers are those of the request's organisations (the author's, the project's sponsor's); where
none of them has checkers, every output checker. Users without an e-mail address get no e-mail;
webhooks get every notification.

What is said: the request, its project, the move, who made it, the round, and a link to the
request's page when ``public_url`` is set; never a figure from an output.

Webhooks: ``POST`` with a JSON body and ``X-Trust-Signature: t=<unix time>,v1=<hex>``, where
``<hex>`` is HMAC-SHA256 over ``"<t>.<body>"`` with ``webhook_secret`` (``verify_signature``
checks one, as a receiver would).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.store import StateStore
from trust.store.notifications import Notification

log = logging.getLogger("trust.notify")

CHECKER_ROLE = "output_checker"
ACTIONS = {
    "submitted": "submitted for output checking",
    "returned": "returned for changes",
    "approved": "approved by two output checkers",
    "rejected": "rejected",
    "released": "released",
}
EXPIRY_NOTICE_DAYS = 30  # agreements ending within this many days are announced once
RETRY_AFTER_S = (30.0, 120.0, 600.0, 1800.0, 3600.0)  # then given up on, with an audit event
LEASE_S = 120.0  # a claimed notification is another process's to send for this long
SIGNATURE_HEADER = "X-Trust-Signature"
SIGNATURE_TOLERANCE_S = 300


@dataclass(frozen=True)
class NotifySettings:
    smtp_host: str = ""  # empty: no e-mail
    smtp_port: int = 25
    smtp_from: str = "trust@localhost"
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    public_url: str = ""  # where the trust's pages are, for links in notifications
    timeout_s: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host or self.webhook_urls)

    @classmethod
    def from_config(cls, config: Any) -> NotifySettings:
        urls = tuple(u.strip() for u in str(config.webhook_urls or "").split(",") if u.strip())
        return cls(
            smtp_host=str(config.smtp_host or ""),
            smtp_port=int(config.smtp_port),
            smtp_from=str(config.smtp_from),
            smtp_starttls=bool(config.smtp_starttls),
            smtp_username=str(config.smtp_username or ""),
            smtp_password=str(config.smtp_password or ""),
            webhook_urls=urls,
            webhook_secret=str(config.webhook_secret or ""),
            public_url=str(config.public_url or "").rstrip("/"),
        )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, made within the last five minutes."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > SIGNATURE_TOLERANCE_S:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Notifier:
    """Turns release transitions into notifications and delivers them; ``start`` runs it in the background."""

    def __init__(
        self,
        store: StateStore,
        audit: AuditLog,
        settings: NotifySettings,
        *,
        project: Callable[[str], Mapping[str, Any]] = lambda project_id: {},
        poll_s: float = 1.0,
        retry_after_s: tuple[float, ...] = RETRY_AFTER_S,
        departments_of: Callable[[list[str]], set[str]] = lambda datasets: set(),
        today: Callable[[], str] = lambda: dt.date.today().isoformat(),
    ) -> None:
        self.store, self.audit, self.settings = store, audit, settings
        self.project = project
        self.departments_of, self.today = departments_of, today
        self.poll_s = poll_s
        self.retry_after_s = retry_after_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.settings.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="trust-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def kick(self) -> None:
        """Look for new events now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure; it is logged
                log.exception("notifications: a round failed; trying again")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def run_once(self) -> int:
        """Queue notifications for new transitions, then deliver what is due; returns how many were sent."""
        with self._lock:
            self.queue_new()
            return self.deliver_due()

    # -- from events to the outbox ---------------------------------------------------------------
    def queue_new(self) -> int:
        if not self.settings.enabled:
            return 0
        queued = 0
        with self.store.write() as tx:
            cursor = tx.notifications.cursor()
            events = tx.audit.after(cursor, kinds=(EventKind.RELEASE_TRANSITION.value,))
            users = {u.name: u for u in tx.users.list()}
            for event in events:
                payload = json.loads(event.payload)
                action = payload.get("target")
                if action not in ACTIONS:
                    continue
                request = tx.releases.get(payload["request"], history=False)
                message = self._message(event.seq, event.ts, event.actor, action, request, payload)
                for name in self._recipients(request, event.actor, users):
                    email = getattr(users[name], "email", "") or ""
                    if self.settings.smtp_host and email:
                        queued += 1
                        tx.notifications.add(
                            created=_now(),
                            event_seq=event.seq,
                            request=request.id,
                            action=action,
                            channel="email",
                            recipient=email,
                            payload=json.dumps({**message, "to_user": name}, sort_keys=True),
                        )
                for url in self.settings.webhook_urls:
                    queued += 1
                    tx.notifications.add(
                        created=_now(),
                        event_seq=event.seq,
                        request=request.id,
                        action=action,
                        channel="webhook",
                        recipient=url,
                        payload=json.dumps(message, sort_keys=True),
                    )
            if events:
                tx.notifications.advance(events[-1].seq)
            queued += self._queue_expiring(tx, users)
        return queued

    def _queue_expiring(self, tx: Any, users: Mapping[str, Any]) -> int:
        """Once per agreement version, EXPIRY_NOTICE_DAYS before it ends: its applicant and members, and the
        data owners of the departments whose data it shares, are told how to renew it."""
        today = dt.date.fromisoformat(self.today())
        queued = 0
        for project, agreement in tx.agreements.current().items():
            spec = agreement.spec
            try:
                ends = dt.date.fromisoformat(str(spec.get("expires", "")))
            except ValueError:
                continue
            if not 0 <= (ends - today).days <= EXPIRY_NOTICE_DAYS:
                continue
            key = f"agreement:{project}:v{agreement.version}"
            if tx.notifications.about(key):
                continue
            application = tx.agreements.application(agreement.application)
            departments = self.departments_of(list(spec.get("datasets", [])))
            told = {application.applicant if application else "", *spec.get("members", [])}
            told |= {u.name for u in users.values() if "data_owner" in u.roles and u.organisation in departments}
            message = {
                "type": "agreement.expiring",
                "event": 0,
                "request": key,
                "project": project,
                "state": "expiring",
                "actor": "trust",
                "round": agreement.version,
                "at": _now(),
                "url": f"{self.settings.public_url}/register" if self.settings.public_url else "",
                "subject": f"[Labour Market Data Trust] The agreement for {project} ends on {ends.isoformat()}",
                "text": (
                    f"The agreement for project {project} (version {agreement.version}) ends on {ends.isoformat()}; "
                    "queries stop the day after. To renew it, apply to amend the project with a later expiry "
                    f"(`trust apply --amends {project}`, docs/projects.md); its data owners approve it in the trust.\n"
                ),
            }
            for name in sorted(n for n in told if n in users and not users[n].disabled):
                email = getattr(users[name], "email", "") or ""
                if self.settings.smtp_host and email:
                    queued += 1
                    tx.notifications.add(
                        created=_now(), event_seq=0, request=key, action="expiring", channel="email",
                        recipient=email, payload=json.dumps({**message, "to_user": name}, sort_keys=True),
                    )  # fmt: skip
            for url in self.settings.webhook_urls:
                queued += 1
                tx.notifications.add(
                    created=_now(), event_seq=0, request=key, action="expiring", channel="webhook",
                    recipient=url, payload=json.dumps(message, sort_keys=True),
                )  # fmt: skip
        return queued

    def _recipients(self, request: Any, actor: str, users: Mapping[str, Any]) -> list[str]:
        checkers = [u for u in users.values() if CHECKER_ROLE in u.roles and not u.disabled]
        author = users.get(request.author)
        organisations = {getattr(author, "organisation", None), self.project(request.project).get("sponsor")}
        own = [u for u in checkers if u.organisation in organisations]
        told = {u.name for u in (own or checkers)} | ({request.author} if author and not author.disabled else set())
        return sorted(told - {actor})

    def _message(self, seq: int, at: str, actor: str, action: str, request: Any, payload: Mapping[str, Any]) -> dict:
        link = f"{self.settings.public_url}/checker/requests/{request.id}" if self.settings.public_url else ""
        what = ACTIONS[action]
        text = (
            f"Release request {request.id} (project {request.project}) was {what}"
            + (f" by {actor}" if actor != "trust" else "")
            + f" at {at}, in round {payload.get('round', request.round)}.\n"
            + (f"\nOpen it: {link}\n" if link else "")
            + "\nThis message holds no figures from the outputs; read them in the trust.\n"
        )
        return {
            "type": f"release_request.{action}",
            "event": seq,
            "request": request.id,
            "project": request.project,
            "state": action,
            "actor": actor,
            "round": payload.get("round", request.round),
            "at": at,
            "url": link,
            "subject": f"[Labour Market Data Trust] Release request {request.id} {what}",
            "text": text,
        }

    # -- delivery ----------------------------------------------------------------------------------
    def deliver_due(self) -> int:
        lease = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEASE_S)
        with self.store.write() as tx:
            due = tx.notifications.claim(_now(), lease.isoformat(timespec="seconds"))
        sent = 0
        for n in due:
            try:
                self._send(n)
            except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried, then given up on
                self._failed(n, f"{type(exc).__name__}: {exc}"[:300])
            else:
                sent += 1
                with self.store.write() as tx:
                    tx.notifications.sent(n.id, _now())
                    self.audit.append(
                        tx,
                        EventKind.NOTIFICATION_SENT,
                        "trust",
                        _project_of(n),
                        request=n.request,
                        action=n.action,
                        channel=n.channel,
                        recipient=n.recipient,
                        notification=n.id,
                    )
        return sent

    def _failed(self, n: Notification, error: str) -> None:
        log.warning("notification %s to %s failed (attempt %s): %s", n.id, n.recipient, n.attempts + 1, error)
        with self.store.write() as tx:
            if n.attempts < len(self.retry_after_s):
                later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.retry_after_s[n.attempts])
                tx.notifications.retry(n.id, error, later.isoformat(timespec="seconds"))
            else:
                tx.notifications.give_up(n.id, error, _now())
                self.audit.append(
                    tx,
                    EventKind.NOTIFICATION_FAILED,
                    "trust",
                    _project_of(n),
                    request=n.request,
                    action=n.action,
                    channel=n.channel,
                    recipient=n.recipient,
                    notification=n.id,
                    error=error,
                )

    def _send(self, n: Notification) -> None:
        message = json.loads(n.payload)
        if n.channel == "email":
            self._email(n.recipient, message)
        elif n.channel == "webhook":
            self._webhook(n.recipient, {k: v for k, v in message.items() if k not in ("text", "subject")}, n.id)
        else:
            raise ValueError(f"unknown channel {n.channel!r}")

    def _email(self, to: str, message: Mapping[str, Any]) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = s.smtp_from, to, message["subject"]
        mail.set_content(message["text"])
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_s) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(mail)

    def _webhook(self, url: str, body: Mapping[str, Any], notification_id: int) -> None:
        import httpx

        data = json.dumps({**body, "id": notification_id}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-Trust-Delivery": str(notification_id)}
        if self.settings.webhook_secret:
            headers[SIGNATURE_HEADER] = sign(self.settings.webhook_secret, data, int(time.time()))
        response = httpx.post(url, content=data, headers=headers, timeout=self.settings.timeout_s)
        if response.status_code >= 300:
            raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


def _project_of(n: Notification) -> str | None:
    try:
        return json.loads(n.payload).get("project")
    except ValueError:
        return None
