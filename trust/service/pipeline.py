"""The query pipeline (DESIGN section 4), composed once: the SQL stages as one ordered sequence.

``STAGES`` runs parse, validate, resolve, describe, the structural checks, the join limit, the
policy decision and rewrite, each a function from the request and what came before to what comes
next (frozen values throughout). Running a query (``check``) and ``trust policy explain``
(``explain``) both walk this same sequence, so explain cannot drift from what runs: a test feeds the
whole gatekeeper corpus through both and compares every decision and every refusal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from trust.catalog.model import Catalog
from trust.errors import PolicyDenied, QueryRejected, TrustError
from trust.policy import Decision, Policy
from trust.policy.explain import Explanation
from trust.service.access import User
from trust.sql.describe import Description, describe
from trust.sql.parse import Parsed, parse
from trust.sql.protect import check_structure
from trust.sql.resolve import Resolved, resolve
from trust.sql.rewrite import Plan, obligations_from, rewrite
from trust.sql.validate import validate


@dataclass(frozen=True)
class Limits:
    """The structural limits from the settings (``trust.config``)."""

    max_sql_length: int
    max_depth: int
    max_joins: int
    max_output_groups: int


@dataclass(frozen=True)
class Request:
    """Everything the stages need from outside: who asks, on which project, what, against what."""

    sql: str
    user: User
    project: Mapping[str, Any]
    catalog: Catalog
    policy: Policy
    limits: Limits
    today: str
    engine: str = "duckdb"  # whose SQL the rewrite writes (trust.sql.dialects)


@dataclass(frozen=True)
class Progress:
    """What the stages have built so far; each stage fills one more field."""

    parsed: Parsed | None = None
    resolved: Resolved | None = None
    description: Description | None = None
    document: Mapping[str, Any] | None = None
    decision: Decision | None = None
    plan: Plan | None = None


@dataclass(frozen=True)
class Checked:
    """A query that passed the gatekeeper and the policy, ready to run."""

    document: Mapping[str, Any]
    decision: Decision
    plan: Plan


def policy_input(user: User, project: Mapping[str, Any], shape: Mapping[str, Any], today: str) -> dict[str, Any]:
    """The policy input document (DESIGN section 6; docs/policy-input.md)."""
    return {
        "identity": {"user": user.name, "roles": list(user.roles), "organisation": user.organisation},
        "project": {k: project.get(k) for k in ("id", "purpose", "legal_gateway", "datasets")},
        "context": {"date": today},
        "query": dict(shape),
    }


def _parse(r: Request, p: Progress) -> Progress:
    return dataclasses.replace(p, parsed=parse(r.sql, max_length=r.limits.max_sql_length, max_depth=r.limits.max_depth))


def _validate(r: Request, p: Progress) -> Progress:
    assert p.parsed is not None
    validate(p.parsed, max_depth=r.limits.max_depth)
    return p


def _resolve(r: Request, p: Progress) -> Progress:
    assert p.parsed is not None
    return dataclasses.replace(p, resolved=resolve(p.parsed, r.catalog))


def _describe(r: Request, p: Progress) -> Progress:
    assert p.resolved is not None
    return dataclasses.replace(p, description=describe(p.resolved, r.catalog))


def _structure(r: Request, p: Progress) -> Progress:
    assert p.description is not None
    check_structure(p.description)
    return p


def _joins(r: Request, p: Progress) -> Progress:
    assert p.description is not None
    joins = sum(1 for _ in p.description.resolved.tree.find_all(exp.Join))  # shape.joins dedupes key pairs
    if joins > r.limits.max_joins:
        raise QueryRejected(
            f"The query has {joins} joins; the limit is {r.limits.max_joins}. Join fewer datasets.",
            rule="too_many_joins",
        )
    return p


def _decide(r: Request, p: Progress) -> Progress:
    assert p.description is not None
    document = policy_input(r.user, r.project, p.description.shape.to_policy_input(), r.today)
    decision = r.policy.decide(document)
    p = dataclasses.replace(p, document=document, decision=decision)
    if not decision.allow:
        raise _Refused(p, PolicyDenied([dict(d) for d in decision.deny], document))
    return p


def _rewrite(r: Request, p: Progress) -> Progress:
    assert p.description is not None and p.decision is not None
    d = p.decision
    plan = rewrite(
        p.description,
        r.catalog,
        obligations_from(d.row_filters, d.column_masks),
        max_rows=r.limits.max_output_groups,
        depth=max(10, d.disclosure.min_units, d.disclosure.dominance_n),
        keyed=d.disclosure.noise is not None,
        min_units=d.disclosure.min_units,
        engine=r.engine,
    )
    return dataclasses.replace(p, plan=plan)


Stage = Callable[[Request, Progress], Progress]
STAGES: tuple[tuple[str, Stage], ...] = (
    ("parse", _parse),
    ("validate", _validate),
    ("resolve", _resolve),
    ("describe", _describe),
    ("structure", _structure),
    ("joins", _joins),
    ("decide", _decide),
    ("rewrite", _rewrite),
)
NEEDS_FILES = frozenset({"rewrite"})  # the stages that need the departments' files, not just the registrations


class _Refused(Exception):
    """A stage refused after adding to the progress (the policy's decision, for explain to show)."""

    def __init__(self, progress: Progress, error: TrustError) -> None:
        super().__init__(error.message)
        self.progress, self.error = progress, error


def _step(name: str, stage: Stage, r: Request, p: Progress) -> Progress:
    try:
        return stage(r, p)
    except RecursionError:
        raise QueryRejected(
            "The query is nested too deeply to analyse; simplify it with CTEs.", rule="nesting_too_deep"
        ) from None


def check(request: Request) -> Checked:
    """Every stage in order; raises the first refusal."""
    progress = Progress()
    for name, stage in STAGES:
        try:
            progress = _step(name, stage, request, progress)
        except _Refused as refused:
            raise refused.error from None
    assert progress.document is not None and progress.decision is not None and progress.plan is not None
    return Checked(document=progress.document, decision=progress.decision, plan=progress.plan)


def explain(request: Request, *, backend: str, offline: bool = False) -> Explanation:
    """The same stages, stopping at the first refusal and saying where; never raises for a refusal.

    A structural refusal after the query was described still shows what the policy would decide, so a
    policy owner sees both. ``offline`` (registrations only) stops before the stages that need files.
    """
    progress, refusal, stage_of_refusal = Progress(), None, None
    notes: list[str] = []
    for name, stage in STAGES:
        if offline and name in NEEDS_FILES:
            notes.append("offline: the SQL is shown only when the departments' files can be read (drop --offline)")
            break
        try:
            progress = _step(name, stage, request, progress)
        except _Refused as refused:
            progress, refusal, stage_of_refusal = refused.progress, refused.error, name
            break
        except TrustError as exc:
            refusal, stage_of_refusal = exc, name
            break
    if refusal is not None and stage_of_refusal != "decide":
        rule = refusal.context.get("rule")
        notes.append(
            f"the query breaks a structural rule at {stage_of_refusal} [{rule}]: {refusal.message}"
            if isinstance(refusal, QueryRejected)
            else f"refused at {stage_of_refusal}: {refusal.message}"
        )
        if progress.description is not None and progress.decision is None:
            try:  # what the policy would say, for the policy owner; the verdict stays the refusal
                progress = _decide(request, progress)
            except _Refused as refused:
                progress = refused.progress
    return Explanation(
        backend=backend,
        document=progress.document,
        decision=progress.decision,
        sql=progress.plan.sql if progress.plan is not None else None,
        notes=tuple(notes),
        refusal=refusal,
    )
