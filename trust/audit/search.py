"""Reading the audit trail: which events to show (``audit_query``) and each one as a line (``summarise``).

``trust audit show`` and ``trust audit search`` build an ``AuditQuery`` here and read it through
``AuditLog.search``, which only reads: the chain and its head are never touched.

    >>> q = audit_query(kinds="query_refused", project="demo-employment-support", since="2026-12-01")
    >>> q.kinds, q.since
    (('query_refused',), '2026-12-01T00:00:00.000000+00:00')
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from trust.audit.kinds import EventKind
from trust.audit.log import AuditEvent
from trust.errors import TrustError, did_you_mean
from trust.store.audit import AuditQuery

__all__ = ["AuditQuery", "audit_query", "datasets_of", "event_json", "summarise"]

SUMMARY_WIDTH = 100


def audit_query(
    *,
    kinds: str | None = None,
    user: str | None = None,
    project: str | None = None,
    dataset: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
) -> AuditQuery:
    """Filters as a person types them: comma-separated kinds, ISO dates or times (UTC unless they say).

    ``since`` includes its instant (a date: from that day's start); ``until`` a date includes that
    whole day, a time is the first instant left out."""
    if limit < 1:
        raise TrustError(f"--limit must be 1 or more, got {limit}.")
    wanted = tuple(k.strip() for k in (kinds or "").split(",") if k.strip())
    known = [k.value for k in EventKind]
    for kind in wanted:
        if kind not in known:
            raise TrustError(
                f"No kind of audit event is called {kind!r}.{did_you_mean(kind, known)} Kinds: {', '.join(known)}."
            )
    start = _instant(since, "--since", end=False) if since else None
    stop = _instant(until, "--until", end=True) if until else None
    if start and stop and stop <= start:
        raise TrustError(f"--until ({until}) must be later than --since ({since}).")
    return AuditQuery(
        kinds=wanted, user=user, project=project, dataset=dataset, since=start, until=stop, limit=int(limit)
    )


def _instant(text: str, option: str, *, end: bool) -> str:
    """``text`` as the events store times: UTC, microseconds, ``+00:00``."""
    raw = text.strip()
    try:
        if len(raw) == 10:  # a date alone
            day = dt.date.fromisoformat(raw)
            when = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC)
        else:
            when = dt.datetime.fromisoformat(raw)
            when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except ValueError:
        raise TrustError(
            f"{option} must be an ISO date or time, e.g. 2026-12-01 or 2026-12-01T09:30 (UTC unless it says); "
            f"got {text!r}."
        ) from None
    return when.isoformat(timespec="microseconds")


def datasets_of(event: AuditEvent) -> list[str]:
    """The datasets an event is about: an output's (or a refusal's) datasets, or the one dataset."""
    p = event.payload
    found = [str(d) for d in p.get("datasets", ()) or ()] if isinstance(p.get("datasets"), list) else []
    if p.get("dataset"):
        found.append(str(p["dataset"]))
    return sorted(set(found))


def summarise(event: AuditEvent) -> str:
    """What happened, in a few words (never the SQL: ``--json`` carries the whole payload)."""
    p = event.payload
    kind = event.kind
    if kind == "output_created":
        text = f"{p.get('output')}: {p.get('status')}" + (f" ({p['engine']})" if p.get("engine") else "")
    elif kind in ("query_refused", "query_failed"):
        why = " ".join(str(x) for x in (p.get("error"), f"[{p['rule']}]" if p.get("rule") else None) if x)
        text = f"{why}: {p.get('message', '')}"
    elif kind in ("release_created", "release_transition"):
        move = f"{p.get('source') or 'new'} -> {p.get('target')}"
        text = f"{p.get('request')}: {move}" + (f" ({p['action']})" if p.get("action") else "")
    elif kind == "release_reviewed":
        decisions = sorted({str(d) for d in dict(p.get("decisions") or {}).values()})
        text = f"{p.get('request')} round {p.get('round')}: {', '.join(decisions)}"
    elif kind in ("release_edited", "release_viewed", "release_downloaded"):
        text = str(p.get("request", ""))
    elif kind == "user_added":
        text = f"{p.get('user')} ({', '.join(p.get('roles') or ())}; {p.get('organisation')})"
    elif kind == "token_issued":
        text = f"{p.get('token')} for {p.get('user')}, expires {p.get('expires') or 'never'}"
    elif kind in ("token_revoked", "user_disabled"):
        text = " ".join(str(x) for x in (p.get("token"), "of" if p.get("token") else None, p.get("user")) if x)
    elif kind == "access_denied":
        text = " ".join(str(x) for x in (p.get("what"), p.get("output") or p.get("request") or p.get("dataset")) if x)
    elif kind == "audit_exported":
        text = f"{len(p.get('files') or {})} files; chain: {p.get('chain')}"
    else:
        shown = ("subject", "problem", "version", "department", "reason", "path", "why", "changes", "expires")
        text = ", ".join(f"{k} {_short(p[k])}" for k in shown if p.get(k))
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_WIDTH else text[: SUMMARY_WIDTH - 1] + "…"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def event_json(event: AuditEvent) -> dict[str, Any]:
    """One event for ``--json``: the columns of the table, the whole payload and its place in the chain."""
    return {
        "seq": event.seq,
        "time": event.ts,
        "kind": event.kind,
        "user": event.actor,
        "project": event.project,
        "datasets": datasets_of(event),
        "summary": summarise(event),
        "payload": dict(event.payload),
        "hash": event.hash,
    }
