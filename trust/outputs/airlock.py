"""The airlock as a service: release requests composed from the rules, the store, bundles and audit.

``Trust``'s release methods (trust/service.py) delegate here, as its identity methods delegate
to ``trust.identity``; server, client, CLI and notebooks only ever call ``Trust``. Every change
of state commits in one transaction with its audit event, before the caller is answered.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trust.audit.log import AuditLog
from trust.errors import NotAuthorised, TrustError, UnknownName
from trust.outputs import bundle as bundles
from trust.outputs import release as rel
from trust.outputs import release_store as rs
from trust.outputs.release import ReleaseOutput, ReleaseRequest, ReleaseState
from trust.outputs.repository import load_output, output_summary
from trust.sdc.report import CellStatus

if TYPE_CHECKING:
    from trust.service import Trust, User

log = logging.getLogger("trust.airlock")
_build_lock = threading.Lock()  # one bundle builder per process; other processes are fenced by the store

# What a caller may pass as a cell's key: "ROW:COLUMN" or (row, column).
CellKey = str | tuple[int, str]
CellReasons = Mapping[str, Mapping[Any, str]]  # output id -> cell (a CellKey) -> reason


@dataclass(frozen=True)
class QueueEntry:
    """A request waiting for review, and whether (or why not) this checker may review it."""

    request: ReleaseRequest
    can_review: bool
    why_not: str = ""


@contextmanager
def _recorded(trust: Trust) -> Iterator[sqlite3.Connection]:
    """A write transaction whose audit events, once committed, also move the log's head."""
    with trust.store.transaction() as con:
        yield con
    trust.audit.mark_head()


def releases_dir(trust: Trust) -> Path:
    return Path(trust.config.home) / "releases"


def cell_key(key: CellKey) -> str:
    if isinstance(key, tuple):
        return f"{int(key[0])}:{key[1]}"
    row, sep, column = str(key).partition(":")
    if not sep or not row.strip().isdigit() or not column:
        raise TrustError(f"Name a cell as 'ROW:COLUMN' or (row, column), e.g. '3:mean_pay' (got {key!r}).")
    return f"{int(row)}:{column}"


def _release_outputs(trust: Trust, output_ids: Sequence[str], cell_reasons: CellReasons | None) -> tuple[ReleaseOutput, ...]:
    """The outputs with the author's reasons, each reason naming a cell that is in review."""
    reasons = dict(cell_reasons or {})
    unknown = [o for o in reasons if o not in output_ids]
    if unknown:
        raise TrustError(f"Cell reasons are for outputs in the request; {', '.join(unknown)} is not one of them.")
    found = []
    for output_id in output_ids:
        given = {cell_key(k): str(v).strip() for k, v in dict(reasons.get(output_id) or {}).items()}
        if given:
            in_review = _cells_in_review(trust, output_id)
            for key, text in given.items():
                if key not in in_review:
                    raise TrustError(f"Cell {key} of {output_id} is not in review; reasons are for cells in review "
                                     f"({', '.join(sorted(in_review)) or 'it has none'}).", output=output_id)
                if not text:
                    raise TrustError(f"The reason for cell {key} of {output_id} is empty.", output=output_id)
        found.append(ReleaseOutput(output_id, dict(sorted(given.items()))))
    return tuple(found)


def _cells_in_review(trust: Trust, output_id: str) -> set[str]:
    out = load_output(trust.store, output_id)
    return {f"{c.row}:{c.column}" for c in out.report.cells if c.status is CellStatus.REVIEW}


def check_complete(trust: Trust, request: ReleaseRequest) -> None:
    """Ready for checkers: every cell in review has the author's reason."""
    for o in request.outputs:
        missing = sorted(_cells_in_review(trust, o.output) - set(o.cell_reasons))
        if missing:
            raise TrustError(
                f"Output {o.output} has cells in review without a reason ({', '.join(missing[:10])}"
                f"{' …' if len(missing) > 10 else ''}). Say for each why it is safe to release, e.g. "
                f"cell_reasons={{'{o.output}': {{'{missing[0]}': '…'}}}}.", request=request.id, output=o.output)


# -- the author's moves --------------------------------------------------------------------------
def request_release(trust: Trust, user_name: str, outputs: Sequence[str], justification: str, *,
                    cell_reasons: CellReasons | None = None, submit: bool = True,
                    key: str | None = None) -> ReleaseRequest:
    user = trust.user(user_name)
    ids = list(dict.fromkeys(str(o) for o in outputs))
    if not ids:
        raise TrustError("Name at least one output to release.")
    text = rel.check_justification(justification)
    if key:
        with trust.store.connect() as con:
            existing = rs.by_key(con, user.name, key)
        if existing:  # a retried request: the first one stands
            return release_request(trust, user.name, existing)
    summaries = [output_summary(trust.store, o) for o in ids]
    projects = sorted({s.project for s in summaries})
    if len(projects) > 1:
        raise TrustError(f"A release request bundles outputs of one project; these come from {', '.join(projects)}.")
    project = projects[0]
    if project not in trust.member_projects(user.name):
        trust.audit.append("access_denied", user.name, project, what="release_request", outputs=ids)
        raise NotAuthorised(f"You are not a member of project {project}, so you cannot ask to release its outputs.",
                            project=project)
    now = _now()
    request = ReleaseRequest(id="rel-" + secrets.token_hex(6), author=user.name, project=project, justification=text,
                             state=rel.INITIAL, round=1, created=now, updated=now,
                             outputs=_release_outputs(trust, ids, cell_reasons))
    if submit:
        check_complete(trust, request)
    with _recorded(trust) as con:
        if key and (existing := rs.by_key(con, user.name, key)):
            request_id = existing  # the same key raced in from a retry
        else:
            rs.insert_request(con, request, key)
            AuditLog.append_in(con, "release_created", user.name, project, request=request.id, source=None,
                               target=request.state.value, action="create", outputs=ids, justification=text,
                               cell_reasons={o.output: dict(o.cell_reasons) for o in request.outputs if o.cell_reasons})
            if submit:
                rel.set_status(con, request, ReleaseState.SUBMITTED, user, now=now)
            request_id = request.id
    return release_request(trust, user.name, request_id)


def submit_release(trust: Trust, user_name: str, request_id: str) -> ReleaseRequest:
    """Submit a draft, or resubmit a returned request for a fresh round of two reviews."""
    user = trust.user(user_name)
    with trust.store.connect() as con:
        request = rs.load_request(con, request_id, history=False)
    rel.check_can_move(request, ReleaseState.SUBMITTED, user)
    check_complete(trust, request)
    with _recorded(trust) as con:
        request = rs.load_request(con, request_id, history=False)
        rel.set_status(con, request, ReleaseState.SUBMITTED, user, now=_now())
    return release_request(trust, user.name, request_id)


def withdraw_release(trust: Trust, user_name: str, request_id: str) -> ReleaseRequest:
    user = trust.user(user_name)
    with _recorded(trust) as con:
        request = rs.load_request(con, request_id, history=False)
        rel.set_status(con, request, ReleaseState.WITHDRAWN, user, now=_now())
    return release_request(trust, user.name, request_id)


def edit_release(trust: Trust, user_name: str, request_id: str, *, justification: str | None = None,
                 cell_reasons: CellReasons | None = None, outputs: Sequence[str] | None = None) -> ReleaseRequest:
    """Change a draft or a returned request: its justification, cell reasons, or fewer outputs."""
    user = trust.user(user_name)
    with trust.store.connect() as con:
        request = rs.load_request(con, request_id, history=False)
    rel.check_can_edit(request, user)
    ids = list(dict.fromkeys(outputs)) if outputs is not None else request.output_ids
    added = [o for o in ids if o not in request.output_ids]
    if added or not ids:
        raise TrustError("A request keeps the outputs it was made with (you may drop some, not add or drop all); "
                         "make a new request for other outputs.", request=request_id)
    reasons: dict[str, Mapping[Any, str]] = {o.output: o.cell_reasons for o in request.outputs}
    reasons.update(cell_reasons or {})
    new_outputs = _release_outputs(trust, ids, {o: r for o, r in reasons.items() if o in ids})
    text = rel.check_justification(justification) if justification is not None else request.justification
    now = _now()
    with _recorded(trust) as con:
        current = rs.load_request(con, request_id, history=False)
        rel.check_can_edit(current, user)
        rs.update_justification(con, request_id, text, now)
        rs.write_outputs(con, request_id, new_outputs)
        AuditLog.append_in(con, "release_edited", user.name, request.project, request=request_id, outputs=ids,
                           justification=text, cell_reasons={o.output: dict(o.cell_reasons) for o in new_outputs
                                                             if o.cell_reasons})
    return release_request(trust, user.name, request_id)


# -- the checkers' moves -------------------------------------------------------------------------
def review_release(trust: Trust, checker: str, request_id: str,
                   decisions: Mapping[str, tuple[str, str]]) -> ReleaseRequest:
    """One checker's review: a decision and comment per output. Two approvals release the request."""
    user = trust.user(checker)
    now = _now()
    with _recorded(trust) as con:
        request = rs.load_request(con, request_id, history=False)
        authors = rs.output_authors(con, request.output_ids)
        rel.check_can_review(request, user, authors)
        checked = rel.check_decisions(request, decisions)
        reviews = rs.insert_reviews(con, request.id, request.round, user.name, checked, now)
        AuditLog.append_in(con, "release_reviewed", user.name, request.project, request=request.id,
                           round=request.round, decisions={o: d.value for o, (d, _) in checked.items()},
                           comments={o: c for o, (_, c) in checked.items() if c})
        target = rel.outcome([*request.reviews_in(), *reviews], request.output_ids)
        if target is not None and target is not request.state:
            request = rel.set_status(con, request, target, user, output_authors=authors, now=now)
    if request.state is ReleaseState.APPROVED:
        try:
            release(trust, request.id)
        except Exception:  # noqa: BLE001 - the approval is recorded; the release is retried at the next start
            log.exception("could not release %s now; it stays approved and is retried when the trust starts",
                          request.id)
    return release_request(trust, user.name, request.id)


def release(trust: Trust, request_id: str) -> ReleaseRequest:
    """The trust's own move: build the bundle of an approved request and release it, exactly once."""
    with _build_lock:
        with trust.store.connect() as con:
            request = rs.load_request(con, request_id, history=False)
        if request.state is not ReleaseState.APPROVED:
            return request
        outputs = [load_output(trust.store, o) for o in request.output_ids]
        organisations = {u.name: u.organisation for u in trust.users()}
        try:
            project = trust.project(request.project)
        except UnknownName:
            project = {"id": request.project}
        released = _now()
        root = releases_dir(trust)
        written = bundles.write_bundle(root, request, outputs, project=project,
                                       approvers=bundles.approvers_of(request, organisations), released=released)
        try:
            with _recorded(trust) as con:
                current = rs.load_request(con, request_id, history=False)
                if current.state is not ReleaseState.APPROVED:  # another process released it meanwhile
                    bundles.discard_bundle(written)
                    return current
                installed = bundles.install_bundle(written, root)
                request = rel.set_status(con, current, ReleaseState.RELEASED, rel.SYSTEM, now=released,
                                         bundle_sha256=installed.manifest_sha256,
                                         files=len(installed.files), approvers=_approver_names(current))
        except BaseException:
            bundles.discard_bundle(written)
            raise
    return request


def resume(trust: Trust) -> list[str]:
    """Finish what a crash interrupted: release every approved request; clear stale half-built bundles."""
    bundles.cleanup_partial(releases_dir(trust))
    with trust.store.connect() as con:
        approved = rs.list_requests(con, states=[ReleaseState.APPROVED])
    done = []
    for request in approved:
        try:
            if release(trust, request.id).state is ReleaseState.RELEASED:
                done.append(request.id)
        except Exception:  # noqa: BLE001 - one bad request must not stop the others or the server
            log.exception("could not release %s", request.id)
    return done


def _approver_names(request: ReleaseRequest) -> list[str]:
    return sorted({r.reviewer for r in request.reviews_in() if r.decision is rel.ReviewDecision.APPROVE})


# -- reading -------------------------------------------------------------------------------------
def _may_see(trust: Trust, user: User, request: ReleaseRequest) -> bool:
    return user.name == request.author or trust.can_see_project(user, request.project)


def release_request(trust: Trust, user_name: str, request_id: str) -> ReleaseRequest:
    """One request as ``user_name`` may see it (author, project members, checkers, administrators)."""
    user = trust.user(user_name)
    with trust.store.connect() as con:
        request = rs.load_request(con, request_id)
    if not _may_see(trust, user, request):
        trust.audit.append("access_denied", user.name, request.project, what="release_request", request=request_id)
        raise NotAuthorised(f"Release request {request_id} belongs to a project you are not a member of.",
                            request=request_id)
    return request.visible_to(user)


def release_requests(trust: Trust, user_name: str, *, project: str | None = None,
                     states: Sequence[ReleaseState] | None = None) -> list[ReleaseRequest]:
    """The requests ``user_name`` may see, most recently changed first."""
    user = trust.user(user_name)
    if project is not None:
        trust.project(project)
        trust.check_can_see_project(user, project)
        projects: list[str] | None = [project]
    elif {"output_checker", "admin"} & set(user.roles):
        projects = None
    else:
        projects = list(trust.member_projects(user.name))
    with trust.store.connect() as con:
        found = rs.list_requests(con, projects=projects, states=states)
    return [r.visible_to(user) for r in found]


def release_queue(trust: Trust, checker: str) -> list[QueueEntry]:
    """Requests waiting for review, oldest first, each with whether this checker may review it."""
    user = trust.user(checker)
    if rel.CHECKER_ROLE not in user.roles:
        raise NotAuthorised(f"Only output checkers have a review queue; {user.name} is not one.")
    with trust.store.connect() as con:
        waiting = rs.list_requests(con, states=sorted(rel.WAITING_FOR_REVIEW))
        entries = []
        for request in sorted(waiting, key=lambda r: r.updated):
            try:
                rel.check_can_review(request, user, rs.output_authors(con, request.output_ids))
                entries.append(QueueEntry(request.visible_to(user), True))
            except TrustError as exc:
                entries.append(QueueEntry(request.visible_to(user), False, exc.message))
    return entries


def release_output_authors(trust: Trust, request: ReleaseRequest) -> set[str]:
    with trust.store.connect() as con:
        return rs.output_authors(con, request.output_ids)


def release_archive(trust: Trust, user_name: str, request_id: str) -> Path:
    """The released bundle's zip, for its author; the download is audited before the file is handed over."""
    user = trust.user(user_name)
    request = release_request(trust, user.name, request_id)
    rel.check_can_download(request, user)
    path = bundles.archive_path(releases_dir(trust), request.id)
    if not path.exists() or bundles.manifest_sha256(path.parent) != request.bundle_sha256:
        raise TrustError(f"The bundle of {request.id} is missing or no longer matches what was released; "
                         "an administrator must look into it.", request=request.id)
    trust.audit.append("release_downloaded", user.name, request.project, request=request.id,
                       bundle_sha256=request.bundle_sha256)
    return path


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
