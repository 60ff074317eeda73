"""The transparency report: what data was used, by which project, for which purpose, what was released.

Built from the audit log (every output and refused query is an event there) and the release
requests, for a department, the Information Commissioner or the public. It names projects,
purposes, legal gateways, datasets and organisations, never SQL, figures or people: those stay
in the audit log itself. Only registered projects are named: an id seen only in refused queries
(a mistyped one) is counted in ``queries_refused_for_unregistered_projects``, never named. The
report carries the audit chain's state and its head hash, so a later report (or ``trust audit
verify``) shows whether the history it summarises was changed.

    >>> report = trust.transparency_report()        # doctest: +SKIP
    >>> write_report(report, Path("transparency"))  # doctest: +SKIP

Files: ``transparency.json`` (everything), ``projects.csv``, ``usage.csv`` (project × dataset)
and ``releases.csv`` (every request that reached the checkers).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from trust.audit.log import AuditEvent
from trust.outputs.release import ReleaseRequest, ReleaseState, ReviewDecision

FILES = ("transparency.json", "projects.csv", "usage.csv", "releases.csv")


@dataclass(frozen=True)
class ProjectRow:
    project: str
    title: str
    sponsor: str
    purpose: str
    legal_gateway: str
    outputs: int
    queries_refused: int
    datasets_used: str  # ";"-separated
    releases_released: int
    releases_rejected: int
    releases_in_progress: int


@dataclass(frozen=True)
class UsageRow:
    project: str
    purpose: str
    dataset: str
    department: str
    outputs: int
    first_used: str
    last_used: str


@dataclass(frozen=True)
class ReleaseRow:
    request: str
    project: str
    purpose: str
    legal_gateway: str
    state: str
    requested: str
    decided: str
    requested_by: str  # the author's organisation
    approved_by: str  # the approving checkers' organisations, ";"-separated
    outputs: str
    datasets: str
    justification: str
    bundle_sha256: str


@dataclass(frozen=True)
class TransparencyReport:
    generated: str
    chain_intact: bool
    chain: str
    events: int
    head_seq: int
    head_hash: str
    period_from: str
    period_to: str
    projects: tuple[ProjectRow, ...]
    usage: tuple[UsageRow, ...]
    releases: tuple[ReleaseRow, ...]
    # queries refused for a project id that is not registered (a typo, a guess): counted, never named
    refused_unregistered: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "audit": {
                "chain_intact": self.chain_intact,
                "chain": self.chain,
                "events": self.events,
                "head_seq": self.head_seq,
                "head_hash": self.head_hash,
                "from": self.period_from,
                "to": self.period_to,
            },
            "projects": [asdict(p) for p in self.projects],
            "queries_refused_for_unregistered_projects": self.refused_unregistered,
            "usage": [asdict(u) for u in self.usage],
            "releases": [asdict(r) for r in self.releases],
        }


def transparency_report(
    events: Sequence[AuditEvent],
    requests: Iterable[ReleaseRequest],
    *,
    output_datasets: Mapping[str, Sequence[str]],
    projects: Mapping[str, Mapping[str, Any]],
    departments: Mapping[str, str],
    organisations: Mapping[str, str],
    chain: tuple[bool, str],
) -> TransparencyReport:
    """The report from the audit events, the release requests and the registrations they refer to."""
    usage: dict[tuple[str, str], list[str]] = {}
    outputs: dict[str, int] = {}
    refused: dict[str, int] = {}
    for e in events:
        if e.kind == "output_created" and e.project:
            outputs[e.project] = outputs.get(e.project, 0) + 1
            for dataset in e.payload.get("datasets", ()):
                usage.setdefault((e.project, str(dataset)), []).append(e.ts)
        elif e.kind == "query_refused" and e.project:
            refused[e.project] = refused.get(e.project, 0) + 1

    release_rows = []
    states: dict[str, list[ReleaseState]] = {}
    for r in requests:
        if r.state is ReleaseState.DRAFT:
            continue  # never reached the checkers
        states.setdefault(r.project, []).append(r.state)
        spec = projects.get(r.project, {})
        approvers = (
            sorted(
                {organisations.get(v.reviewer, "") for v in r.reviews_in() if v.decision is ReviewDecision.APPROVE}
                - {""}
            )
            if r.state in (ReleaseState.RELEASED, ReleaseState.APPROVED)
            else []
        )
        datasets = sorted({d for o in r.output_ids for d in output_datasets.get(o, ())})
        decided = (
            r.history[-1].ts if r.history and r.state not in (ReleaseState.SUBMITTED, ReleaseState.UNDER_REVIEW) else ""
        )
        release_rows.append(
            ReleaseRow(
                request=r.id,
                project=r.project,
                purpose=str(spec.get("purpose", "")),
                legal_gateway=str(spec.get("legal_gateway", "")),
                state=r.state.value,
                requested=r.created,
                decided=decided,
                requested_by=organisations.get(r.author, ""),
                approved_by=";".join(approvers),
                outputs=";".join(r.output_ids),
                datasets=";".join(datasets),
                justification=r.justification,
                bundle_sha256=r.bundle_sha256 or "",
            )
        )

    # A project is listed when it is registered or the trust made something for it (an output or a
    # release request is only ever made for a registered project, which may since have ended). An id
    # seen only in refused queries may be anyone's typo or guess: it is counted, never published.
    real = set(projects) | set(outputs) | set(states) | {p for p, _ in usage}
    unregistered = sum(n for p, n in refused.items() if p not in real)
    project_ids = sorted(real & (set(outputs) | set(refused) | set(states) | {p for p, _ in usage}))
    project_rows = []
    for pid in project_ids:
        spec = projects.get(pid, {})
        mine = states.get(pid, [])
        project_rows.append(
            ProjectRow(
                project=pid,
                title=str(spec.get("title", "")),
                sponsor=str(spec.get("sponsor", "")),
                purpose=str(spec.get("purpose", "")),
                legal_gateway=str(spec.get("legal_gateway", "")),
                outputs=outputs.get(pid, 0),
                queries_refused=refused.get(pid, 0),
                datasets_used=";".join(sorted(d for p, d in usage if p == pid)),
                releases_released=mine.count(ReleaseState.RELEASED),
                releases_rejected=mine.count(ReleaseState.REJECTED),
                releases_in_progress=sum(
                    1
                    for s in mine
                    if s
                    in (ReleaseState.SUBMITTED, ReleaseState.UNDER_REVIEW, ReleaseState.APPROVED, ReleaseState.RETURNED)
                ),
            )
        )
    usage_rows = [
        UsageRow(
            project=p,
            purpose=str(projects.get(p, {}).get("purpose", "")),
            dataset=d,
            department=departments.get(d, ""),
            outputs=len(ts),
            first_used=min(ts),
            last_used=max(ts),
        )
        for (p, d), ts in sorted(usage.items())
    ]
    last = events[-1] if events else None
    return TransparencyReport(
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        chain_intact=chain[0],
        chain=chain[1],
        events=len(events),
        head_seq=last.seq if last else 0,
        head_hash=last.hash if last else "",
        period_from=events[0].ts if events else "",
        period_to=last.ts if last else "",
        projects=tuple(project_rows),
        usage=tuple(usage_rows),
        releases=tuple(release_rows),
        refused_unregistered=unregistered,
    )


def write_report(report: TransparencyReport, folder: Path) -> dict[Path, str]:
    """Write the report's files into ``folder``; returns each path with its SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "transparency.json": (json.dumps(report.to_json(), indent=1, sort_keys=True) + "\n").encode(),
        "projects.csv": _csv(ProjectRow, report.projects),
        "usage.csv": _csv(UsageRow, report.usage),
        "releases.csv": _csv(ReleaseRow, report.releases),
    }
    written = {}
    for name in FILES:
        path = folder / name
        path.write_bytes(contents[name])
        written[path] = hashlib.sha256(contents[name]).hexdigest()
    return written


def _csv(kind: type, rows: Iterable[Any]) -> bytes:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    names = [f.name for f in fields(kind)]
    writer.writerow(names)
    for row in rows:
        writer.writerow([getattr(row, n) for n in names])
    return sink.getvalue().encode()
