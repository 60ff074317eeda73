"""Release requests: the airlock's states and transitions, as data (DESIGN section 8).

A request bundles outputs of one project with the analyst's justification. Two output checkers
review it independently, output by output; the author never reviews their own, nor does a
checker review the same round twice. Any rejection stops it; a request for changes returns it
to the author; two approvals release it (the trust builds the bundle: ``trust.outputs.bundle``).

``TRANSITIONS`` is the whole machine: every move, who may make it, and from where. ``OWNERS``
says whose move each state waits for. ``trust.service.airlock.set_status`` is the one place a
request moves: it checks the transition and the actor here, updates the row only if nobody moved
it meanwhile, and writes the audit event in the same transaction.
Permission checks come in pairs: ``check_can_review`` raises, ``can_review`` answers.

    >>> [t.action for t in transitions_from(ReleaseState.DRAFT)]
    ['submit', 'withdraw']
    >>> OWNERS[ReleaseState.APPROVED].value
    'system'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from trust.errors import InvalidTransition, NotAuthorised, TrustError
from trust.outputs.release_states import Actor, ReleaseState, ReviewDecision
from trust.outputs.release_text import release_html, release_text

REQUIRED_APPROVALS = 2
CHECKER_ROLE = "output_checker"
MAX_JUSTIFICATION = 5000
MIN_JUSTIFICATION = 20
MAX_COMMENT = 5000


@dataclass(frozen=True)
class Transition:
    source: ReleaseState
    target: ReleaseState
    action: str
    by: Actor
    description: str
    new_round: bool = False  # a resubmission starts a fresh round of two reviews


S, A = ReleaseState, Actor
TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.DRAFT, S.SUBMITTED, "submit", A.AUTHOR, "the author submits it for review"),
    Transition(S.DRAFT, S.WITHDRAWN, "withdraw", A.AUTHOR, "the author abandons it"),
    Transition(S.SUBMITTED, S.UNDER_REVIEW, "review", A.CHECKER, "a first checker approves every output"),
    Transition(S.SUBMITTED, S.REJECTED, "reject", A.CHECKER, "a checker rejects an output"),
    Transition(S.SUBMITTED, S.RETURNED, "return", A.CHECKER, "a checker asks for changes"),
    Transition(S.SUBMITTED, S.WITHDRAWN, "withdraw", A.AUTHOR, "the author withdraws it"),
    Transition(S.UNDER_REVIEW, S.APPROVED, "approve", A.CHECKER, "a second, independent checker approves too"),
    Transition(S.UNDER_REVIEW, S.REJECTED, "reject", A.CHECKER, "the second checker rejects an output"),
    Transition(S.UNDER_REVIEW, S.RETURNED, "return", A.CHECKER, "the second checker asks for changes"),
    Transition(S.UNDER_REVIEW, S.WITHDRAWN, "withdraw", A.AUTHOR, "the author withdraws it"),
    Transition(S.RETURNED, S.SUBMITTED, "resubmit", A.AUTHOR, "the author resubmits it, changed", new_round=True),
    Transition(S.RETURNED, S.WITHDRAWN, "withdraw", A.AUTHOR, "the author withdraws it"),
    Transition(S.APPROVED, S.RELEASED, "release", A.SYSTEM, "the trust builds the bundle for the author"),
)
BY_STATES: dict[tuple[ReleaseState, ReleaseState], Transition] = {(t.source, t.target): t for t in TRANSITIONS}
OWNERS: dict[ReleaseState, Actor] = {
    S.DRAFT: A.AUTHOR,
    S.SUBMITTED: A.CHECKER,
    S.UNDER_REVIEW: A.CHECKER,
    S.RETURNED: A.AUTHOR,
    S.APPROVED: A.SYSTEM,
    S.REJECTED: A.NOBODY,
    S.RELEASED: A.NOBODY,
    S.WITHDRAWN: A.NOBODY,
}
INITIAL = S.DRAFT
WAITING_FOR_REVIEW = frozenset({S.SUBMITTED, S.UNDER_REVIEW})
EDITABLE = frozenset({S.DRAFT, S.RETURNED})
del S, A


def transitions_from(state: ReleaseState) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source is state]


class Person(Protocol):
    """A user as the service knows them (``trust.service.User``)."""

    @property
    def name(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class SystemActor:
    """The trust itself, for the moves no person makes (building and releasing the bundle)."""

    name: str = "trust"
    roles: tuple[str, ...] = ()


SYSTEM = SystemActor()


# -- values --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseOutput:
    """One output in a request, with the author's reason for each of its cells in review."""

    output: str
    cell_reasons: Mapping[str, str] = field(default_factory=dict)  # "ROW:COLUMN" -> reason
    replaces: str | None = None  # the output this one corrects, after the request was returned

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "cell_reasons": dict(self.cell_reasons),
            **({"replaces": self.replaces} if self.replaces else {}),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReleaseOutput:
        return cls(
            str(raw["output"]),
            {str(k): str(v) for k, v in dict(raw.get("cell_reasons") or {}).items()},
            str(raw["replaces"]) if raw.get("replaces") else None,
        )


COMMENT_AUDIENCES = ("analyst", "checkers")  # analyst: the author and the checkers; checkers: checkers only


@dataclass(frozen=True)
class Comment:
    """A comment on a request, one of its outputs, or one cell; a reply names its thread's comment."""

    id: str
    request: str
    round: int
    author: str
    audience: str  # COMMENT_AUDIENCES
    body: str
    created: str
    output: str | None = None
    cell: str | None = None  # "ROW:COLUMN"
    parent: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request": self.request,
            "round": self.round,
            "author": self.author,
            "audience": self.audience,
            "body": self.body,
            "created": self.created,
            "output": self.output,
            "cell": self.cell,
            "parent": self.parent,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Comment:
        return cls(
            str(raw["id"]),
            str(raw["request"]),
            int(raw["round"]),
            str(raw["author"]),
            str(raw["audience"]),
            str(raw["body"]),
            str(raw["created"]),
            raw.get("output"),
            raw.get("cell"),
            raw.get("parent"),
        )


@dataclass(frozen=True)
class Review:
    """One checker's decision on one output, in one round."""

    reviewer: str
    round: int
    output: str
    decision: ReviewDecision
    comment: str
    created: str

    def to_json(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "round": self.round,
            "output": self.output,
            "decision": self.decision.value,
            "comment": self.comment,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Review:
        return cls(
            str(raw["reviewer"]),
            int(raw["round"]),
            str(raw["output"]),
            ReviewDecision(raw["decision"]),
            str(raw.get("comment") or ""),
            str(raw["created"]),
        )


@dataclass(frozen=True)
class Step:
    """One transition in a request's history, read back from the audit log."""

    seq: int
    ts: str
    source: str | None
    target: str
    action: str
    actor: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "source": self.source,
            "target": self.target,
            "action": self.action,
            "actor": self.actor,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Step:
        return cls(
            int(raw["seq"]),
            str(raw["ts"]),
            raw.get("source"),
            str(raw["target"]),
            str(raw["action"]),
            str(raw["actor"]),
        )


@dataclass(frozen=True)
class ReleaseRequest:
    id: str
    author: str
    project: str
    justification: str
    state: ReleaseState
    round: int
    created: str
    updated: str
    outputs: tuple[ReleaseOutput, ...]
    reviews: tuple[Review, ...] = ()  # only those the viewer may see (``visible_to``)
    reviewers_this_round: tuple[str, ...] = ()  # who has reviewed the current round, whatever the viewer sees
    history: tuple[Step, ...] = ()
    bundle_sha256: str | None = None

    @property
    def output_ids(self) -> list[str]:
        return [o.output for o in self.outputs]

    @property
    def owner(self) -> Actor:
        """Whose move the request waits for."""
        return OWNERS[self.state]

    @property
    def approvals_needed(self) -> int:
        return max(0, REQUIRED_APPROVALS - len(self.reviewers_this_round)) if self.state in WAITING_FOR_REVIEW else 0

    def reviews_in(self, round_: int | None = None) -> list[Review]:
        wanted = self.round if round_ is None else round_
        return [r for r in self.reviews if r.round == wanted]

    def reasons(self, output_id: str) -> Mapping[str, str]:
        for o in self.outputs:
            if o.output == output_id:
                return o.cell_reasons
        return {}

    def visible_to(self, viewer: Person) -> ReleaseRequest:
        """The request as ``viewer`` may see it: reviews stay independent while a round is open.

        While two checkers are still reviewing, a checker sees only their own review of the round,
        and the author sees who has reviewed but not what they decided. Once the round is decided
        (or for earlier rounds) everyone who may see the request sees every review.
        """
        if self.state not in WAITING_FOR_REVIEW:
            return self
        shown = tuple(r for r in self.reviews if r.round < self.round or r.reviewer == viewer.name)
        return replace(self, reviews=shown)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "project": self.project,
            "justification": self.justification,
            "state": self.state.value,
            "owner": self.owner.value,
            "round": self.round,
            "created": self.created,
            "updated": self.updated,
            "outputs": [o.to_json() for o in self.outputs],
            "reviews": [r.to_json() for r in self.reviews],
            "reviewers_this_round": list(self.reviewers_this_round),
            "approvals_needed": self.approvals_needed,
            "history": [h.to_json() for h in self.history],
            "bundle_sha256": self.bundle_sha256,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReleaseRequest:
        return cls(
            id=str(raw["id"]),
            author=str(raw["author"]),
            project=str(raw["project"]),
            justification=str(raw["justification"]),
            state=ReleaseState(raw["state"]),
            round=int(raw["round"]),
            created=str(raw["created"]),
            updated=str(raw["updated"]),
            outputs=tuple(ReleaseOutput.from_json(o) for o in raw.get("outputs", ())),
            reviews=tuple(Review.from_json(r) for r in raw.get("reviews", ())),
            reviewers_this_round=tuple(raw.get("reviewers_this_round", ())),
            history=tuple(Step.from_json(h) for h in raw.get("history", ())),
            bundle_sha256=raw.get("bundle_sha256"),
        )

    def __repr__(self) -> str:
        return f"<ReleaseRequest {self.id} {self.state.value}: {len(self.outputs)} output(s) of {self.project}>"

    def __str__(self) -> str:
        return release_text(self)

    def _repr_html_(self) -> str:
        return release_html(self)


# -- who may do what -----------------------------------------------------------------------------
def actors(request: ReleaseRequest, person: Person, output_authors: Iterable[str] = ()) -> set[Actor]:
    """Which of the request's parties ``person`` is. A checker who wrote it, or any of its outputs, is not its checker."""
    if isinstance(person, SystemActor):
        return {Actor.SYSTEM}
    found = set()
    involved = person.name == request.author or person.name in set(output_authors)
    if person.name == request.author:
        found.add(Actor.AUTHOR)
    if CHECKER_ROLE in person.roles and not involved:
        found.add(Actor.CHECKER)
    return found


def check_can_move(
    request: ReleaseRequest, target: ReleaseState, person: Person, output_authors: Iterable[str] = ()
) -> Transition:
    """The transition from the request's state to ``target``, if ``person`` may make it; else a clear error."""
    transition = BY_STATES.get((request.state, target))
    if transition is None:
        possible = ", ".join(f"{t.action} (to {t.target})" for t in transitions_from(request.state)) or "nothing"
        raise InvalidTransition(
            f"Release request {request.id} is {request.state}; it cannot become {target}. "
            f"From {request.state} the possible moves are: {possible}.",
            request=request.id,
            state=request.state.value,
            target=target.value,
        )
    if transition.by not in actors(request, person, output_authors):
        raise NotAuthorised(_who_may(transition, request, person), request=request.id, action=transition.action)
    return transition


def can_move(request: ReleaseRequest, target: ReleaseState, person: Person, output_authors: Iterable[str] = ()) -> bool:
    try:
        check_can_move(request, target, person, output_authors)
    except TrustError:
        return False
    return True


def _who_may(t: Transition, request: ReleaseRequest, person: Person) -> str:
    if t.by is Actor.AUTHOR:
        return f"Only the author of release request {request.id} ({request.author}) may {t.action} it."
    if t.by is Actor.CHECKER:
        if person.name == request.author:
            return (
                f"You wrote release request {request.id}; its author can never review it. Another output checker must."
            )
        if CHECKER_ROLE in person.roles:
            return (
                f"You created an output in release request {request.id}, so you cannot review it; "
                "another output checker must."
            )
        return f"Only output checkers may review release requests; {person.name} is not one."
    return f"Only the trust itself may {t.action} a release request."


def check_can_review(request: ReleaseRequest, person: Person, output_authors: Iterable[str] = ()) -> None:
    """A checker may review a request waiting for review: not their own, and once per round."""
    if request.state not in WAITING_FOR_REVIEW:
        raise InvalidTransition(
            f"Release request {request.id} is {request.state}, not waiting for review.",
            request=request.id,
            state=request.state.value,
        )
    if Actor.CHECKER not in actors(request, person, output_authors):
        raise NotAuthorised(
            _who_may(BY_STATES[(request.state, ReleaseState.REJECTED)], request, person), request=request.id
        )
    if person.name in request.reviewers_this_round:
        raise NotAuthorised(
            f"You have already reviewed release request {request.id} (round {request.round}); "
            "its second review must come from another output checker.",
            request=request.id,
        )


def _allowed(check: Callable[..., None], *args: Any) -> bool:
    """Whether ``check`` lets this through (for pages that show or hide a button)."""
    try:
        check(*args)
    except TrustError:
        return False
    return True


def can_review(request: ReleaseRequest, person: Person, output_authors: Iterable[str] = ()) -> bool:
    return _allowed(check_can_review, request, person, output_authors)


def check_can_edit(request: ReleaseRequest, person: Person) -> None:
    if person.name != request.author:
        raise NotAuthorised(
            f"Only the author of release request {request.id} ({request.author}) may change it.", request=request.id
        )
    if request.state not in EDITABLE:
        raise InvalidTransition(
            f"Release request {request.id} is {request.state}; it can be changed only while it is a draft "
            "or after checkers returned it.",
            request=request.id,
            state=request.state.value,
        )


def can_edit(request: ReleaseRequest, person: Person) -> bool:
    return _allowed(check_can_edit, request, person)


def check_can_download(request: ReleaseRequest, person: Person) -> None:
    if person.name != request.author:
        raise NotAuthorised(
            f"Only the author of release request {request.id} ({request.author}) may download its bundle.",
            request=request.id,
        )
    if request.state is not ReleaseState.RELEASED:
        raise InvalidTransition(
            f"Release request {request.id} is {request.state}; its bundle exists once it is released.",
            request=request.id,
            state=request.state.value,
        )


def can_download(request: ReleaseRequest, person: Person) -> bool:
    return _allowed(check_can_download, request, person)


# -- reviews decide the round --------------------------------------------------------------------
def outcome(reviews: Iterable[Review], outputs: Iterable[str]) -> ReleaseState | None:
    """The state a round's reviews lead to, or None while they are not enough to decide.

    Any rejection rejects; any request for changes returns; ``REQUIRED_APPROVALS`` checkers who
    each approved every output approve.
    """
    reviews = list(reviews)
    decisions = {r.decision for r in reviews}
    if ReviewDecision.REJECT in decisions:
        return ReleaseState.REJECTED
    if ReviewDecision.CHANGES in decisions:
        return ReleaseState.RETURNED
    wanted = set(outputs)
    approving = {
        name
        for name in {r.reviewer for r in reviews}
        if {r.output for r in reviews if r.reviewer == name and r.decision is ReviewDecision.APPROVE} >= wanted
    }
    if len(approving) >= REQUIRED_APPROVALS:
        return ReleaseState.APPROVED
    return ReleaseState.UNDER_REVIEW if approving else None


def check_decisions(
    request: ReleaseRequest, decisions: Mapping[str, tuple[str, str]]
) -> dict[str, tuple[ReviewDecision, str]]:
    """A decision and comment for every output of the request, and only those; a comment to reject or return."""
    missing = [o for o in request.output_ids if o not in decisions]
    extra = [o for o in decisions if o not in request.output_ids]
    if missing or extra:
        raise TrustError(
            f"A review decides every output of release request {request.id}: "
            + (f"missing {', '.join(missing)}" if missing else f"{', '.join(extra)} not in the request")
            + ".",
            request=request.id,
        )
    checked = {}
    for output_id in request.output_ids:
        raw, comment = decisions[output_id]
        try:
            decision = ReviewDecision(str(raw).strip().lower())
        except ValueError:
            raise TrustError(
                f"Decide output {output_id} with approve, reject or changes (got {raw!r}).",
                request=request.id,
                output=output_id,
            ) from None
        comment = (comment or "").strip()
        if decision is not ReviewDecision.APPROVE and not comment:
            raise TrustError(
                f"Say why you {'reject' if decision is ReviewDecision.REJECT else 'ask for changes to'} "
                f"output {output_id}: the author reads your comment.",
                request=request.id,
                output=output_id,
            )
        if len(comment) > MAX_COMMENT:
            raise TrustError(f"Keep the comment on {output_id} under {MAX_COMMENT:,} characters.", request=request.id)
        checked[output_id] = (decision, comment)
    return checked


def check_justification(text: str) -> str:
    text = (text or "").strip()
    if len(text) < MIN_JUSTIFICATION:
        raise TrustError(
            f"Say why these outputs should leave the trust, for whom and for what, in at least "
            f"{MIN_JUSTIFICATION} characters: the checkers and the public transparency report read it."
        )
    if len(text) > MAX_JUSTIFICATION:
        raise TrustError(f"Keep the justification under {MAX_JUSTIFICATION:,} characters.")
    return text


# -- the diagram in docs/release.md --------------------------------------------------------------
def state_diagram() -> str:
    """The machine as a Mermaid state diagram, generated from ``TRANSITIONS`` and ``OWNERS``."""
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL.value}"]
    lines += [f"    {t.source.value} --> {t.target.value}: {t.action} ({t.by.value})" for t in TRANSITIONS]
    lines += [f"    {s.value} --> [*]" for s in ReleaseState if OWNERS[s] is Actor.NOBODY]
    return "\n".join(lines)


def transitions_table() -> str:
    """The transitions as a Markdown table, generated for docs/release.md."""
    rows = ["| from | to | action | by | when |", "|---|---|---|---|---|"]
    rows += [
        f"| {t.source.value} | {t.target.value} | {t.action} | {t.by.value} | {t.description} |" for t in TRANSITIONS
    ]
    return "\n".join(rows)


def owners_table() -> str:
    rows = ["| state | waits for |", "|---|---|"]
    rows += [f"| {s.value} | {OWNERS[s].value} |" for s in ReleaseState]
    return "\n".join(rows)


def generated_docs() -> str:
    """The generated block of docs/release.md; ``TRUST_UPDATE_DOCS=1 pytest tests/outputs/test_docs.py`` rewrites it."""
    return "\n\n".join(["```mermaid\n" + state_diagram() + "\n```", owners_table(), transitions_table()])
