"""The airlock: release requests composed from the rules (``trust.outputs.release``), the store,
bundles (``trust.outputs.bundle``) and audit.

Server, client-facing pieces, CLI and notebooks call ``trust.airlock``. Every change of state
commits in one transaction with its audit event, before the caller is answered; ``set_status`` is
the one place a request moves.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.errors import InvalidTransition, KeyReused, NotAuthorised, TrustError, UnknownName
from trust.outputs import bundle as bundles
from trust.outputs import release as rel
from trust.outputs.release import Person, ReleaseOutput, ReleaseRequest, ReleaseState
from trust.outputs.rounds import Round, RoundDiff, diff_rounds, rounds_reviewed_by
from trust.sdc.report import CellStatus
from trust.service.access import Access, User
from trust.service.integrity import Integrity
from trust.store import Records, Remembered, StateStore

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


def cell_key(key: CellKey) -> str:
    if isinstance(key, tuple):
        return f"{int(key[0])}:{key[1]}"
    row, sep, column = str(key).partition(":")
    if not sep or not row.strip().isdigit() or not column:
        raise TrustError(f"Name a cell as 'ROW:COLUMN' or (row, column), e.g. '3:mean_pay' (got {key!r}).")
    return f"{int(row)}:{column}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def set_status(
    tx: Records,
    request: ReleaseRequest,
    target: ReleaseState,
    person: Person,
    *,
    output_authors: Iterable[str] = (),
    now: str,
    bundle_sha256: str | None = None,
    **detail: Any,
) -> ReleaseRequest:
    """The one place a request moves: inside the caller's write transaction, with its audit event.

    Refuses a transition not in ``TRANSITIONS`` (``InvalidTransition``) or by the wrong party
    (``NotAuthorised``), and a request someone else moved meanwhile (``InvalidTransition``).
    """
    transition = rel.check_can_move(request, target, person, output_authors)
    round_ = request.round + 1 if transition.new_round else request.round
    if not tx.releases.move(request, target, round_, now, bundle_sha256):
        raise InvalidTransition(
            f"Release request {request.id} changed while you were looking at it; reload it.", request=request.id
        )
    if target is ReleaseState.SUBMITTED:  # what this round asks the checkers to review, for the diff between rounds
        tx.releases.save_round(request.id, round_, now)
    AuditLog.append(
        tx,
        EventKind.RELEASE_TRANSITION,
        person.name,
        request.project,
        request=request.id,
        source=request.state.value,
        target=target.value,
        action=transition.action,
        by=transition.by.value,
        round=round_,
        **({"bundle_sha256": bundle_sha256} if bundle_sha256 else {}),
        **detail,
        state_sha256=tx.releases.digest(request.id),
    )
    reviewers = () if transition.new_round else request.reviewers_this_round
    return replace(
        request,
        state=target,
        round=round_,
        updated=now,
        reviewers_this_round=reviewers,
        bundle_sha256=bundle_sha256 or request.bundle_sha256,
    )


class Airlock:
    """Release requests: the author's moves, the checkers' moves, the trust's own move, and reading."""

    def __init__(
        self,
        home: Path,
        store: StateStore,
        audit: AuditLog,
        access: Access,
        stale: Callable[[Mapping[str, str]], dict[str, str]] = lambda versions: {},
        integrity: Integrity | None = None,
    ) -> None:
        self.store, self.audit, self.access = store, audit, access
        self.integrity = integrity or Integrity(store, audit)
        self.stale = stale  # notes on datasets an output read at a version no longer current (the catalogue's)
        self.releases_dir = Path(home) / "releases"

    # -- helpers ---------------------------------------------------------------------------------
    def _load(self, request_id: str, *, history: bool = False) -> ReleaseRequest:
        with self.store.read() as tx:
            return tx.releases.get(request_id, history=history)

    def _verified(self, request_id: str, actor: str) -> None:
        """Refuse (``StateDisagrees``) to act on a request whose stored state is not what its events recorded."""
        with self.store.read() as tx:
            project = tx.releases.get(request_id, history=False).project
            self.integrity.check_request(tx, request_id, actor=actor, project=project)

    def _cells_in_review(self, output_id: str) -> set[str]:
        with self.store.read() as tx:
            out = tx.outputs.get(output_id)
        return {f"{c.row}:{c.column}" for c in out.report.cells if c.status is CellStatus.REVIEW}

    def _release_outputs(
        self, output_ids: Sequence[str], cell_reasons: CellReasons | None
    ) -> tuple[ReleaseOutput, ...]:
        """The outputs with the author's reasons, each reason naming a cell that is in review."""
        reasons = dict(cell_reasons or {})
        unknown = [o for o in reasons if o not in output_ids]
        if unknown:
            raise TrustError(f"Cell reasons are for outputs in the request; {', '.join(unknown)} is not one of them.")
        found = []
        for output_id in output_ids:
            given = {cell_key(k): str(v).strip() for k, v in dict(reasons.get(output_id) or {}).items()}
            if given:
                in_review = self._cells_in_review(output_id)
                for key, text in given.items():
                    if key not in in_review:
                        raise TrustError(
                            f"Cell {key} of {output_id} is not in review; reasons are for cells in "
                            f"review ({', '.join(sorted(in_review)) or 'it has none'}).",
                            output=output_id,
                        )
                    if not text:
                        raise TrustError(f"The reason for cell {key} of {output_id} is empty.", output=output_id)
            found.append(ReleaseOutput(output_id, dict(sorted(given.items()))))
        return tuple(found)

    def check_complete(self, request: ReleaseRequest) -> None:
        """Ready for checkers: every cell in review has the author's reason."""
        for o in request.outputs:
            missing = sorted(self._cells_in_review(o.output) - set(o.cell_reasons))
            if missing:
                raise TrustError(
                    f"Output {o.output} has cells in review without a reason ({', '.join(missing[:10])}"
                    f"{' …' if len(missing) > 10 else ''}). Say for each why it is safe to release, e.g. "
                    f"cell_reasons={{'{o.output}': {{'{missing[0]}': '…'}}}}.",
                    request=request.id,
                    output=o.output,
                )

    # -- the author's moves ----------------------------------------------------------------------
    def request(
        self,
        user_name: str,
        outputs: Sequence[str],
        justification: str,
        *,
        cell_reasons: CellReasons | None = None,
        submit: bool = True,
        key: str | None = None,
    ) -> ReleaseRequest:
        """Ask for ``outputs`` (ids, of one of your projects) to leave the trust; submitted unless ``submit=False``.

        ``cell_reasons`` maps an output id to {"ROW:COLUMN": reason} for its cells in review. A retry
        with the same ``key`` returns the first request instead of making another.
        """
        user = self.access.user(user_name)
        ids = list(dict.fromkeys(str(o) for o in outputs))
        if not ids:
            raise TrustError("Name at least one output to release.")
        text = rel.check_justification(justification)
        if key:
            with self.store.read() as tx:
                existing = tx.releases.by_key(user.name, key)
            if existing:  # a retried request: the first one stands
                return self.get(user.name, existing)
        with self.store.read() as tx:
            summaries = [tx.outputs.summary(o) for o in ids]
        projects = sorted({s.project for s in summaries})
        if len(projects) > 1:
            raise TrustError(
                f"A release request bundles outputs of one project; these come from {', '.join(projects)}."
            )
        project = projects[0]
        if project not in self.access.member_projects(user.name):
            self.audit.record(EventKind.ACCESS_DENIED, user.name, project, what="release_request", outputs=ids)
            raise NotAuthorised(
                f"You are not a member of project {project}, so you cannot ask to release its outputs.", project=project
            )
        now = _now()
        request = ReleaseRequest(
            id="rel-" + secrets.token_hex(6),
            author=user.name,
            project=project,
            justification=text,
            state=rel.INITIAL,
            round=1,
            created=now,
            updated=now,
            outputs=self._release_outputs(ids, cell_reasons),
        )
        if submit:
            self.check_complete(request)
        with self.store.write() as tx:
            if key and (existing := tx.releases.by_key(user.name, key)):
                request_id = existing  # the same key raced in from a retry
            else:
                tx.releases.insert(request, key)
                self.audit.append(
                    tx,
                    EventKind.RELEASE_CREATED,
                    user.name,
                    project,
                    request=request.id,
                    source=None,
                    target=request.state.value,
                    action="create",
                    outputs=ids,
                    justification=text,
                    cell_reasons={o.output: dict(o.cell_reasons) for o in request.outputs if o.cell_reasons},
                    state_sha256=tx.releases.digest(request.id),
                )
                if submit:
                    set_status(tx, request, ReleaseState.SUBMITTED, user, now=now)
                request_id = request.id
        return self.get(user.name, request_id)

    def submit(self, user_name: str, request_id: str) -> ReleaseRequest:
        """Submit a draft, or resubmit a returned request for a fresh round of two reviews."""
        user = self.access.user(user_name)
        self._verified(request_id, user.name)
        request = self._load(request_id)
        rel.check_can_move(request, ReleaseState.SUBMITTED, user)
        self.check_complete(request)
        with self.store.write() as tx:
            set_status(tx, tx.releases.get(request_id, history=False), ReleaseState.SUBMITTED, user, now=_now())
        return self.get(user.name, request_id)

    def withdraw(self, user_name: str, request_id: str) -> ReleaseRequest:
        user = self.access.user(user_name)
        self._verified(request_id, user.name)
        with self.store.write() as tx:
            set_status(tx, tx.releases.get(request_id, history=False), ReleaseState.WITHDRAWN, user, now=_now())
        return self.get(user.name, request_id)

    def edit(
        self,
        user_name: str,
        request_id: str,
        *,
        justification: str | None = None,
        cell_reasons: CellReasons | None = None,
        outputs: Sequence[str] | None = None,
    ) -> ReleaseRequest:
        """Change a draft or a returned request: its justification, cell reasons, or fewer outputs."""
        user = self.access.user(user_name)
        self._verified(request_id, user.name)
        request = self._load(request_id)
        rel.check_can_edit(request, user)
        ids = list(dict.fromkeys(outputs)) if outputs is not None else request.output_ids
        added = [o for o in ids if o not in request.output_ids]
        if added or not ids:
            raise TrustError(
                "A request keeps the outputs it was made with (you may drop some, not add or drop all); "
                "make a new request for other outputs.",
                request=request_id,
            )
        reasons: dict[str, Mapping[Any, str]] = {o.output: o.cell_reasons for o in request.outputs}
        reasons.update(cell_reasons or {})
        links = {o.output: o.replaces for o in request.outputs}  # a corrected output keeps what it replaces
        new_outputs = tuple(
            replace(o, replaces=links.get(o.output))
            for o in self._release_outputs(ids, {o: r for o, r in reasons.items() if o in ids})
        )
        text = rel.check_justification(justification) if justification is not None else request.justification
        now = _now()
        with self.store.write() as tx:
            rel.check_can_edit(tx.releases.get(request_id, history=False), user)
            tx.releases.update_justification(request_id, text, now)
            tx.releases.write_outputs(request_id, new_outputs)
            self.audit.append(
                tx,
                EventKind.RELEASE_EDITED,
                user.name,
                request.project,
                request=request_id,
                outputs=ids,
                justification=text,
                cell_reasons={o.output: dict(o.cell_reasons) for o in new_outputs if o.cell_reasons},
                state_sha256=tx.releases.digest(request_id),
            )
        return self.get(user.name, request_id)

    def replace(
        self,
        user_name: str,
        request_id: str,
        old_output: str,
        new_output: str,
        *,
        cell_reasons: Mapping[Any, str] | None = None,
    ) -> ReleaseRequest:
        """In a returned request, put ``new_output`` (a corrected output of the same project, yours) in the place
        of ``old_output``; the request keeps the link, and the checkers see what changed (``diff``)."""
        user = self.access.user(user_name)
        self._verified(request_id, user.name)
        request = self._load(request_id)
        if request.author != user.name:
            raise NotAuthorised(f"Only {request.author}, who made {request_id}, may change its outputs.")
        if request.state is not ReleaseState.RETURNED:
            raise InvalidTransition(
                f"Outputs are replaced in a request returned for changes; {request_id} is {request.state.value}.",
                request=request_id,
            )
        if old_output not in request.output_ids:
            raise TrustError(
                f"{old_output} is not in {request_id}; its outputs are {', '.join(request.output_ids)}.",
                request=request_id,
            )
        if new_output in request.output_ids:
            raise TrustError(f"{new_output} is already in {request_id}.", request=request_id)
        with self.store.read() as tx:
            new = tx.outputs.summary(new_output)
        if new.project != request.project or new.user != user.name:
            raise TrustError(
                f"{new_output} must be your own output of project {request.project} to replace {old_output}.",
                request=request_id,
            )
        [corrected] = self._release_outputs([new_output], {new_output: cell_reasons} if cell_reasons else None)
        outputs = tuple(
            replace(corrected, replaces=old_output) if o.output == old_output else o for o in request.outputs
        )
        now = _now()
        with self.store.write() as tx:
            current = tx.releases.get(request_id, history=False)
            if current.state is not ReleaseState.RETURNED or current.output_ids != request.output_ids:
                raise InvalidTransition(
                    f"Release request {request_id} changed meanwhile; reload it.", request=request_id
                )
            tx.releases.write_outputs(request_id, outputs)
            tx.releases.update_justification(request_id, current.justification, now)
            self.audit.append(
                tx,
                EventKind.RELEASE_EDITED,
                user.name,
                request.project,
                request=request_id,
                outputs=[o.output for o in outputs],
                replaced={old_output: new_output},
                justification=current.justification,
                cell_reasons={o.output: dict(o.cell_reasons) for o in outputs if o.cell_reasons},
                state_sha256=tx.releases.digest(request_id),
            )
        return self.get(user.name, request_id)

    # -- comments and rounds ----------------------------------------------------------------------
    def comment(
        self,
        user_name: str,
        request_id: str,
        body: str,
        *,
        output: str | None = None,
        cell: CellKey | None = None,
        reply_to: str | None = None,
        checkers_only: bool = False,
    ) -> rel.Comment:
        """Comment on a request, one of its outputs or one cell, or reply in a thread. The author and the
        checkers write for each other; checkers may also write notes among themselves (``checkers_only``),
        which the author never sees. A reply stays on its thread's output, cell and audience."""
        user = self.access.user(user_name)
        request = self.get(user.name, request_id)
        is_checker = rel.CHECKER_ROLE in user.roles and user.name != request.author
        if user.name != request.author and not is_checker:
            raise NotAuthorised(f"Only {request.author} and the output checkers comment on {request_id}.")
        if request.state in (ReleaseState.WITHDRAWN, ReleaseState.DRAFT):
            raise InvalidTransition(
                f"Release request {request_id} is {request.state.value}; comments are for requests with the checkers.",
                request=request_id,
            )
        text = (body or "").strip()
        if not text or len(text) > rel.MAX_COMMENT:
            raise TrustError(f"A comment needs between 1 and {rel.MAX_COMMENT} characters; this one has {len(text)}.")
        if checkers_only and not is_checker:
            raise NotAuthorised("Only output checkers write notes for checkers only.")
        audience = "checkers" if checkers_only else "analyst"
        key = cell_key(cell) if cell is not None else None
        with self.store.read() as tx:
            existing = {c.id: c for c in tx.releases.comments(request_id)}
            rounds = tx.releases.rounds(request_id)
        if reply_to is not None:
            parent = existing.get(reply_to)
            if parent is None or not self._may_read(user, request, parent):
                raise UnknownName(f"No comment {reply_to!r} on {request_id} to reply to.", request=request_id)
            output, key, audience = parent.output, parent.cell, parent.audience
            reply_to = parent.parent or parent.id  # one level of threads: a reply answers the thread's first comment
        elif output is not None:
            named = set(request.output_ids) | {o.output for r in rounds for o in r.outputs}
            if output not in named:
                raise TrustError(
                    f"{output} is not an output of {request_id}; its outputs are {', '.join(request.output_ids)}.",
                    request=request_id,
                )
            if key is not None:
                with self.store.read() as tx:
                    out = tx.outputs.get(output)
                row, _, column = key.partition(":")
                if column not in out.columns or int(row) >= out.table.num_rows:
                    raise TrustError(
                        f"Cell {key} is not in {output}: it has rows 0-{out.table.num_rows - 1} and columns "
                        f"{', '.join(out.columns)}.",
                        output=output,
                    )
        elif key is not None:
            raise TrustError("Name the output a cell comment is about (output=...).", request=request_id)
        comment = rel.Comment(
            id="cmt-" + secrets.token_hex(6),
            request=request_id,
            round=request.round,
            author=user.name,
            audience=audience,
            body=text,
            created=_now(),
            output=output,
            cell=key,
            parent=reply_to,
        )
        with self.store.write() as tx:
            tx.releases.add_comment(comment)
            self.audit.append(
                tx,
                EventKind.RELEASE_COMMENTED,
                user.name,
                request.project,
                request=request_id,
                comment=comment.id,
                output=output,
                cell=key,
                parent=reply_to,
                audience=audience,
                body=text,
            )
        return comment

    def _may_read(self, user: User, request: ReleaseRequest, comment: rel.Comment) -> bool:
        return comment.audience == "analyst" or (rel.CHECKER_ROLE in user.roles and user.name != request.author)

    def comments(self, user_name: str, request_id: str) -> builtins.list[rel.Comment]:
        """The comments ``user_name`` may read on a request, oldest first (threads: ``parent``)."""
        user = self.access.user(user_name)
        request = self.get(user.name, request_id)
        with self.store.read() as tx:
            found = tx.releases.comments(request_id)
        return [c for c in found if self._may_read(user, request, c)]

    def rounds(self, user_name: str, request_id: str) -> builtins.list[Round]:
        """What each round asked the checkers to review, oldest first."""
        self.get(user_name, request_id)
        with self.store.read() as tx:
            return tx.releases.rounds(request_id)

    def diff(self, user_name: str, request_id: str, *, since: int | None = None) -> RoundDiff:
        """What changed since round ``since``; by default since the last round this checker reviewed (for
        anyone else, since the round before the current one)."""
        user = self.access.user(user_name)
        self.get(user.name, request_id)  # may they see it at all
        with self.store.read() as tx:
            rounds = {r.number: r for r in tx.releases.rounds(request_id)}
            reviews = list(tx.releases.get(request_id, history=False).reviews)
        if not rounds:
            raise TrustError(f"Release request {request_id} has not been submitted yet.", request=request_id)
        latest = rounds[max(rounds)]
        if since is None:
            mine = [n for n in rounds_reviewed_by(reviews, user.name) if n < latest.number]
            since = mine[-1] if mine else latest.number - 1
        if since not in rounds or since >= latest.number:
            earlier = ", ".join(str(n) for n in sorted(rounds) if n < latest.number) or "none"
            raise TrustError(
                f"Round {since} of {request_id} cannot be compared with round {latest.number} (earlier rounds: "
                f"{earlier}).",
                request=request_id,
            )
        old = rounds[since]
        ids = {o.output for o in old.outputs} | {o.output for o in latest.outputs}
        with self.store.read() as tx:
            outputs = {o: tx.outputs.get(o) for o in ids}
        return diff_rounds(old, latest, outputs)

    # -- the checkers' moves ---------------------------------------------------------------------
    def review(
        self,
        checker: str,
        request_id: str,
        decisions: Mapping[str, tuple[str, str]],
        *,
        key: str | None = None,
    ) -> ReleaseRequest:
        """One checker's review: a decision and comment per output. Two approvals release the request.

        A retry with the same idempotency ``key`` returns the request as it is, instead of reviewing twice."""
        user = self.access.user(checker)
        self._verified(request_id, user.name)
        now = _now()
        digest = hashlib.sha256(
            json.dumps([request_id, sorted((o, list(d)) for o, d in decisions.items())]).encode()
        ).hexdigest()
        with self.store.write() as tx:
            if key and (first := tx.idempotency.get(user.name, key)) is not None:
                if first.route != "review" or first.request_sha256 != digest:
                    raise KeyReused(
                        f"The idempotency key {key!r} was sent before with a different request; send a new key "
                        "with each new review."
                    )
                return self.get(user.name, request_id)
            if key:
                tx.idempotency.put(user.name, key, Remembered("review", digest, request_id), now)
            request = tx.releases.get(request_id, history=False)
            authors = tx.outputs.authors(request.output_ids)
            rel.check_can_review(request, user, authors)
            checked = rel.check_decisions(request, decisions)
            reviews = tx.releases.insert_reviews(request.id, request.round, user.name, checked, now)
            self.audit.append(
                tx,
                EventKind.RELEASE_REVIEWED,
                user.name,
                request.project,
                request=request.id,
                round=request.round,
                decisions={o: d.value for o, (d, _) in checked.items()},
                comments={o: c for o, (_, c) in checked.items() if c},
                state_sha256=tx.releases.digest(request.id),
            )
            target = rel.outcome([*request.reviews_in(), *reviews], request.output_ids)
            if target is not None and target is not request.state:
                request = set_status(tx, request, target, user, output_authors=authors, now=now)
        if request.state is ReleaseState.APPROVED:
            try:
                self.release(request.id)
            except Exception:  # noqa: BLE001 - the approval is recorded; the release is retried at the next start
                log.exception(
                    "could not release %s now; it stays approved and is retried when the trust starts", request.id
                )
        return self.get(user.name, request.id)

    # -- the trust's own move --------------------------------------------------------------------
    def release(self, request_id: str) -> ReleaseRequest:
        """Build the bundle of an approved request and release it, exactly once."""
        with _build_lock:
            request = self._load(request_id)
            if request.state is not ReleaseState.APPROVED:
                return request
            self._verified(request_id, rel.SYSTEM.name)
            with self.store.read() as tx:
                for o in request.output_ids:  # nothing leaves that is not what the trust recorded
                    self.integrity.check_output(tx, o, actor=rel.SYSTEM.name, project=request.project)
                outputs = [tx.outputs.get(o) for o in request.output_ids]
            organisations = {u.name: u.organisation for u in self.access.users()}
            try:
                project = self.access.project(request.project)
            except UnknownName:
                project = {"id": request.project}
            released = _now()
            root = self.releases_dir
            written = bundles.write_bundle(
                root,
                request,
                outputs,
                project=project,
                approvers=bundles.approvers_of(request, organisations),
                released=released,
                stale={o.id: self.stale(o.versions) for o in outputs},
                organisations=organisations,
            )
            installed = None
            try:
                with self.store.write() as tx:
                    current = tx.releases.get(request_id, history=False)
                    if current.state is not ReleaseState.APPROVED:  # another process released it meanwhile
                        bundles.discard_bundle(written)
                        return current
                    installed = bundles.install_bundle(written, root)
                    request = set_status(
                        tx,
                        current,
                        ReleaseState.RELEASED,
                        rel.SYSTEM,
                        now=released,
                        bundle_sha256=installed.manifest_sha256,
                        files=len(installed.files),
                        approvers=_approver_names(current),
                    )
            except BaseException:
                bundles.discard_bundle(written)
                if installed is not None:  # in place, but the release was not recorded: not released
                    bundles.discard_bundle(installed)
                raise
        return request

    def resume(self) -> list[str]:
        """Finish what a crash interrupted: release every approved request; clear stale half-built bundles."""
        bundles.cleanup_partial(self.releases_dir)
        with self.store.read() as tx:
            approved = tx.releases.list(states=[ReleaseState.APPROVED])
        done = []
        for request in approved:
            try:
                if self.release(request.id).state is ReleaseState.RELEASED:
                    done.append(request.id)
            except Exception:  # noqa: BLE001 - one bad request must not stop the others or the server
                log.exception("could not release %s", request.id)
        return done

    # -- reading ---------------------------------------------------------------------------------
    def _may_see(self, user: User, request: ReleaseRequest) -> bool:
        return user.name == request.author or self.access.can_see_project(user, request.project)

    def get(self, user_name: str, request_id: str) -> ReleaseRequest:
        """One request as ``user_name`` may see it (author, project members, checkers, administrators).
        Another project's request gets the same answer as an id that does not exist."""
        user = self.access.user(user_name)
        missing = UnknownName(f"No release request {request_id!r} among your projects' requests.", request=request_id)
        try:
            request = self._load(request_id, history=True)
        except UnknownName:
            raise missing from None  # without the store's "did you mean": it would name other requests
        if not self._may_see(user, request):
            self.audit.record(
                EventKind.ACCESS_DENIED, user.name, request.project, what="release_request", request=request_id
            )
            raise missing
        return request.visible_to(user)

    def list(
        self, user_name: str, *, project: str | None = None, states: Sequence[ReleaseState] | None = None
    ) -> list[ReleaseRequest]:
        """The requests ``user_name`` may see, most recently changed first."""
        user = self.access.user(user_name)
        projects = self.access.visible_projects(user, project)
        with self.store.read() as tx:
            found = tx.releases.list(projects=projects, states=states)
        return [r.visible_to(user) for r in found]

    def queue(self, checker: str) -> builtins.list[QueueEntry]:
        """Requests waiting for review, oldest first, each with whether this checker may review it."""
        user = self.access.user(checker)
        if rel.CHECKER_ROLE not in user.roles:
            raise NotAuthorised(f"Only output checkers have a review queue; {user.name} is not one.")
        entries = []
        with self.store.read() as tx:
            waiting = tx.releases.list(states=sorted(rel.WAITING_FOR_REVIEW))
            for request in sorted(waiting, key=lambda r: r.updated):
                try:
                    rel.check_can_review(request, user, tx.outputs.authors(request.output_ids))
                    entries.append(QueueEntry(request.visible_to(user), True))
                except TrustError as exc:
                    entries.append(QueueEntry(request.visible_to(user), False, exc.message))
        return entries

    def output_authors(self, request: ReleaseRequest) -> set[str]:
        with self.store.read() as tx:
            return tx.outputs.authors(request.output_ids)

    def viewed(self, user: User, request: ReleaseRequest, where: str) -> None:
        """Record that a checker opened a request's page."""
        self.audit.record(EventKind.RELEASE_VIEWED, user.name, request.project, request=request.id, where=where)

    def archive(self, user_name: str, request_id: str) -> Path:
        """The released bundle's zip, for its author; the download is audited before the file is handed over."""
        user = self.access.user(user_name)
        request = self.get(user.name, request_id)
        rel.check_can_download(request, user)
        path = bundles.archive_path(self.releases_dir, request.id)
        if not path.exists() or bundles.manifest_sha256(path.parent) != request.bundle_sha256:
            raise TrustError(
                f"The bundle of {request.id} is missing or no longer matches what was released; "
                "an administrator must look into it.",
                request=request.id,
            )
        self.audit.record(
            EventKind.RELEASE_DOWNLOADED,
            user.name,
            request.project,
            request=request.id,
            bundle_sha256=request.bundle_sha256,
        )
        return path


def _approver_names(request: ReleaseRequest) -> list[str]:
    return sorted({r.reviewer for r in request.reviews_in() if r.decision is rel.ReviewDecision.APPROVE})
