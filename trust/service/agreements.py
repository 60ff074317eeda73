"""Safe projects in minutes: data-sharing applications, each data owner's approval, and the agreements
that become the policy data the running trust uses at once.

    draft -> submitted -> approved   (every department whose data is asked for approved its part)
                       -> rejected   (any department refused)
    draft | submitted -> withdrawn   (by the applicant)

- **Applying.** An analyst or sponsor drafts an application: a title, a purpose (from the controlled
  list in policy data), a legal gateway (from the register of gateways), the datasets and the columns
  wanted with a reason for each, the members, the intended outputs, an expiry and the reference of the
  data protection impact assessment. An amendment names the project it changes (``amends``).
- **Guidance.** The Rego that governs queries assesses the draft (``data.trust.applications``): what
  would block approval, and why, before anyone is asked. Blockers stop submission.
- **Approval.** Each department whose data is asked for approves or rejects its part, in the trust, by
  its data owners (users with the ``data_owner`` role whose organisation is the department), optionally
  with conditions: fewer columns, row filters on its datasets, stricter disclosure thresholds. A
  department may require two approvers (``approvals_required`` in departments.json). Nobody approves an
  application they made or are a member of.
- **Agreement.** The last approval turns the application into a versioned agreement, in the same
  transaction: the project's policy data, with the conditions applied. ``trust.policy.live`` gives it
  to the policy from the next decision on. Every step is an audit event, with a readable diff per version.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.catalog.model import Catalog
from trust.errors import InvalidTransition, NotAuthorised, TrustError, UnknownName, did_you_mean
from trust.policy.applications import Assessment
from trust.policy.data import policy_data
from trust.service.access import Access, User
from trust.store import StateStore, StoredAgreement, StoredApplication, StoredDecision

DATA_OWNER = "data_owner"
STATES = ("draft", "submitted", "approved", "rejected", "withdrawn")
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{2,62}$")
_FILTER_NODES = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Paren,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.In,
    exp.Between,
    exp.Is,
    exp.Tuple,
    exp.Neg,
)
THRESHOLD_KEYS = ("min_units", "p_percent", "dominance_k")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Application:
    """What is applied for."""

    project: str  # the project's id: a new one, or the one amended
    title: str
    purpose: str
    legal_gateway: str
    sponsor: str  # the organisation that sponsors it
    datasets: Mapping[str, Mapping[str, str]]  # dataset -> column -> why it is needed
    members: tuple[str, ...]
    outputs: str  # the intended outputs
    expires: str  # YYYY-MM-DD
    dpia: str = ""  # the data protection impact assessment's reference
    amends: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "title": self.title,
            "purpose": self.purpose,
            "legal_gateway": self.legal_gateway,
            "sponsor": self.sponsor,
            "datasets": {d: dict(c) for d, c in self.datasets.items()},
            "members": list(self.members),
            "outputs": self.outputs,
            "expires": self.expires,
            "dpia": self.dpia,
            "amends": self.amends,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Application:
        try:
            datasets = {
                str(d): {str(c): str(r) for c, r in dict(cols).items()} for d, cols in dict(raw["datasets"]).items()
            }
            return cls(
                project=str(raw["project"]).strip(),
                title=str(raw["title"]).strip(),
                purpose=str(raw["purpose"]).strip(),
                legal_gateway=str(raw["legal_gateway"]).strip(),
                sponsor=str(raw.get("sponsor") or "").strip(),
                datasets=datasets,
                members=tuple(dict.fromkeys(str(m).strip() for m in raw.get("members") or ())),
                outputs=str(raw.get("outputs") or "").strip(),
                expires=str(raw.get("expires") or "").strip(),
                dpia=str(raw.get("dpia") or "").strip(),
                amends=bool(raw.get("amends", False)),
            )
        except KeyError as exc:
            raise TrustError(
                f"An application needs {exc.args[0]!r}: give project, title, purpose, legal_gateway, datasets "
                "(each with its columns and a reason for each), members, outputs and expires."
            ) from None
        except (TypeError, ValueError, AttributeError):
            raise TrustError(
                "An application's datasets are {dataset: {column: reason}} and its members a list of user names."
            ) from None


def assessment_json(a: Assessment) -> dict[str, Any]:
    return {
        "blockers": [dataclasses.asdict(b) for b in a.blockers],
        "warnings": [dataclasses.asdict(w) for w in a.warnings],
    }


@dataclass(frozen=True)
class Decision:
    department: str
    approver: str
    decision: str
    conditions: Mapping[str, Any]
    note: str
    created: str

    def to_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "approver": self.approver,
            "decision": self.decision,
            "conditions": dict(self.conditions),
            "note": self.note,
            "created": self.created,
        }


@dataclass(frozen=True)
class ApplicationView:
    id: str
    applicant: str
    state: str
    application: Application
    departments: tuple[str, ...]  # whose approval it needs
    decisions: tuple[Decision, ...]
    waiting_for: Mapping[str, int]  # department -> approvals still needed
    assessment: Assessment
    created: str
    updated: str
    agreement_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "applicant": self.applicant,
            "state": self.state,
            "application": self.application.to_json(),
            "departments": list(self.departments),
            "decisions": [d.to_json() for d in self.decisions],
            "waiting_for": dict(self.waiting_for),
            "assessment": assessment_json(self.assessment),
            "created": self.created,
            "updated": self.updated,
            "agreement_version": self.agreement_version,
        }


@dataclass(frozen=True)
class RegisterEntry:
    """One agreement in force, as the public register shows it: no personal data."""

    project: str
    title: str
    purpose: str
    legal_gateway: str
    gateway_citation: str
    departments: tuple[str, ...]
    datasets: tuple[str, ...]
    shared_with: tuple[str, ...]  # organisations (the sponsor and the members'), never people
    outputs: str
    approved: str
    expires: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "title": self.title,
            "purpose": self.purpose,
            "legal_gateway": self.legal_gateway,
            "gateway_citation": self.gateway_citation,
            "departments": list(self.departments),
            "datasets": list(self.datasets),
            "shared_with": list(self.shared_with),
            "outputs": self.outputs,
            "approved": self.approved,
            "expires": self.expires,
            "version": self.version,
        }


Assess = Callable[[Mapping[str, Any]], Assessment]


@dataclass
class Agreements:
    store: StateStore
    audit: AuditLog
    access: Access
    catalog: Callable[[], Catalog]  # the registrations: which department holds each dataset, column roles
    assess: Assess  # the Rego's assessment of an application document
    today: Callable[[], str] = field(default=lambda: dt.date.today().isoformat())

    # -- reading -----------------------------------------------------------------------------------
    def _policy_data(self) -> Mapping[str, Any]:
        return policy_data(self.access.policies_dir)

    def _approvals_required(self, department: str) -> int:
        return max(1, int(self._policy_data().get("departments", {}).get(department, {}).get("approvals_required", 1)))

    def _departments(self, application: Application) -> tuple[str, ...]:
        catalog = self.catalog()
        found = set()
        for d in application.datasets:
            try:
                found.add(catalog.get(d).department)
            except Exception:  # noqa: BLE001 - an unknown dataset is reported by _check, not here
                continue
        return tuple(sorted(found))

    def _may_see(self, user: User, stored: StoredApplication) -> bool:
        application = Application.from_json(stored.spec)
        return (
            user.name == stored.applicant
            or user.name in application.members
            or "admin" in user.roles
            or "policy_owner" in user.roles
            or (DATA_OWNER in user.roles and user.organisation in self._departments(application))
        )

    def _load(self, user: User, application_id: str) -> StoredApplication:
        with self.store.read() as tx:
            stored = tx.agreements.application(application_id)
        if stored is None or not self._may_see(user, stored):
            raise UnknownName(f"No application {application_id!r} among those you may see.", application=application_id)
        return stored

    def _view(self, stored: StoredApplication, assessment: Assessment | None = None) -> ApplicationView:
        application = Application.from_json(stored.spec)
        with self.store.read() as tx:
            decisions = tuple(
                Decision(d.department, d.approver, d.decision, d.conditions, d.note, d.created)
                for d in tx.agreements.decisions(stored.id)
            )
            agreement = next((a for a in tx.agreements.agreements(stored.project) if a.application == stored.id), None)
        departments = self._departments(application)
        waiting = {
            d: max(
                0, self._approvals_required(d) - sum(x.department == d and x.decision == "approve" for x in decisions)
            )
            for d in departments
        }
        return ApplicationView(
            stored.id,
            stored.applicant,
            stored.state,
            application,
            departments,
            decisions,
            waiting if stored.state == "submitted" else {},
            assessment if assessment is not None else self._assess(stored.applicant, application),
            stored.created,
            stored.updated,
            agreement.version if agreement else None,
        )

    def get(self, user_name: str, application_id: str) -> ApplicationView:
        user = self.access.user(user_name)
        return self._view(self._load(user, application_id))

    def list(self, user_name: str, *, states: Sequence[str] = ()) -> builtins.list[ApplicationView]:
        """The applications ``user_name`` may see: their own, their projects', and for a data owner those
        that ask for their department's data."""
        user = self.access.user(user_name)
        with self.store.read() as tx:
            found = tx.agreements.applications(states=tuple(states))
        return [self._view(s) for s in found if self._may_see(user, s)]

    # -- the applicant's moves -----------------------------------------------------------------------
    def draft(self, user_name: str, spec: Mapping[str, Any], *, application_id: str | None = None) -> ApplicationView:
        """Start an application, or change your draft; returns it with the policy's guidance."""
        user = self.access.user(user_name)
        application = Application.from_json(spec)
        self._check(application)
        now = _now()
        with self.store.write() as tx:
            if application_id is None:
                stored = StoredApplication(
                    "app-" + secrets.token_hex(6), user.name, "draft", application.project, application.amends,
                    application.to_json(), now, now,
                )  # fmt: skip
                event = EventKind.APPLICATION_DRAFTED
            else:
                found = tx.agreements.application(application_id)
                if found is None or found.applicant != user.name:
                    raise UnknownName(f"No draft application {application_id!r} of yours.", application=application_id)
                if found.state != "draft":
                    raise InvalidTransition(
                        f"Application {application_id} is {found.state}; only a draft changes. Withdraw it and "
                        "apply again, or apply to amend the project once it is approved."
                    )
                stored = StoredApplication(
                    found.id, found.applicant, "draft", application.project, application.amends,
                    application.to_json(), found.created, now,
                )  # fmt: skip
                event = EventKind.APPLICATION_CHANGED
            tx.agreements.put_application(stored)
            self.audit.append(
                tx, event, user.name, application.project, application=stored.id, spec=application.to_json()
            )
        return self._view(stored)

    def guidance(self, user_name: str, application_id: str) -> Assessment:
        user = self.access.user(user_name)
        stored = self._load(user, application_id)
        return self._assess(stored.applicant, Application.from_json(stored.spec))

    def submit(self, user_name: str, application_id: str) -> ApplicationView:
        """Send your draft to the data owners; refused while the policy finds anything that would block it."""
        user = self.access.user(user_name)
        stored = self._load(user, application_id)
        if stored.applicant != user.name:
            raise NotAuthorised(f"Only {stored.applicant}, who made {application_id}, may submit it.")
        if stored.state != "draft":
            raise InvalidTransition(f"Application {application_id} is {stored.state}, not a draft.")
        application = Application.from_json(stored.spec)
        self._check(application)
        assessment = self._assess(stored.applicant, application)
        if assessment.blockers:
            raise TrustError(
                f"Application {application_id} cannot be submitted yet: "
                + " ".join(b.message for b in assessment.blockers)
                + " Change the draft and submit again.",
                application=application_id,
            )
        now = _now()
        with self.store.write() as tx:
            moved = StoredApplication(
                stored.id,
                stored.applicant,
                "submitted",
                stored.project,
                stored.amends,
                stored.spec,
                stored.created,
                now,
            )
            tx.agreements.put_application(moved)
            self.audit.append(
                tx,
                EventKind.APPLICATION_SUBMITTED,
                user.name,
                stored.project,
                application=stored.id,
                departments=list(self._departments(application)),
            )
        return self._view(moved, assessment)

    def withdraw(self, user_name: str, application_id: str) -> ApplicationView:
        user = self.access.user(user_name)
        stored = self._load(user, application_id)
        if stored.applicant != user.name:
            raise NotAuthorised(f"Only {stored.applicant}, who made {application_id}, may withdraw it.")
        if stored.state not in ("draft", "submitted"):
            raise InvalidTransition(f"Application {application_id} is {stored.state}; it can no longer be withdrawn.")
        with self.store.write() as tx:
            moved = StoredApplication(
                stored.id,
                stored.applicant,
                "withdrawn",
                stored.project,
                stored.amends,
                stored.spec,
                stored.created,
                _now(),
            )
            tx.agreements.put_application(moved)
            self.audit.append(tx, EventKind.APPLICATION_WITHDRAWN, user.name, stored.project, application=stored.id)
        return self._view(moved)

    # -- the data owners' moves ------------------------------------------------------------------------
    def decide(
        self,
        user_name: str,
        application_id: str,
        decision: str,
        *,
        conditions: Mapping[str, Any] | None = None,
        note: str = "",
    ) -> ApplicationView:
        """A data owner's decision on their department's part: ``approve`` (with optional conditions) or
        ``reject`` (with a note saying why). Conditions: ``columns`` {dataset: [columns kept]}, ``row_filters``
        [{dataset, expression}], ``disclosure`` {min_units, p_percent, dominance_k} (only stricter)."""
        user = self.access.user(user_name)
        stored = self._load(user, application_id)
        application = Application.from_json(stored.spec)
        department = user.organisation
        if DATA_OWNER not in user.roles or department not in self._departments(application):
            raise NotAuthorised(
                f"Only a data owner of a department whose data {application_id} asks for decides on it "
                f"({', '.join(self._departments(application))})."
            )
        if user.name == stored.applicant or user.name in application.members:
            raise NotAuthorised("Nobody decides on an application they made or are a member of.")
        if stored.state != "submitted":
            raise InvalidTransition(f"Application {application_id} is {stored.state}; only a submitted one is decided.")
        if decision not in ("approve", "reject"):
            raise TrustError(f"Decide 'approve' or 'reject', not {decision!r}.")
        if decision == "reject" and not note.strip():
            raise TrustError("Say why you reject it (note=...): the applicant reads it.")
        checked = self._conditions(application, department, conditions or {}) if decision == "approve" else {}
        now = _now()
        with self.store.write() as tx:
            current = tx.agreements.application(application_id)
            if current is None or current.state != "submitted":
                raise InvalidTransition(f"Application {application_id} changed meanwhile; reload it.")
            if any(
                d.department == department and d.approver == user.name for d in tx.agreements.decisions(application_id)
            ):
                raise InvalidTransition(f"You have already decided on {application_id} for {department}.")
            tx.agreements.add_decision(
                StoredDecision(application_id, department, user.name, decision, checked, note.strip(), now)
            )
            self.audit.append(
                tx,
                EventKind.APPLICATION_DECIDED,
                user.name,
                stored.project,
                application=application_id,
                department=department,
                decision=decision,
                conditions=checked,
                note=note.strip(),
            )
            decisions = tx.agreements.decisions(application_id)
            state = "submitted"
            if decision == "reject":
                state = "rejected"
            elif all(
                sum(d.department == dep and d.decision == "approve" for d in decisions) >= self._approvals_required(dep)
                for dep in self._departments(application)
            ):
                state = "approved"
                self._make_agreement(tx, current, application, decisions, user.name, now)
            if state != "submitted":
                moved = StoredApplication(
                    current.id,
                    current.applicant,
                    state,
                    current.project,
                    current.amends,
                    current.spec,
                    current.created,
                    now,
                )
                tx.agreements.put_application(moved)
                self.audit.append(
                    tx, EventKind.APPLICATION_CLOSED, user.name, stored.project, application=application_id, state=state
                )
            else:
                moved = current
        return self._view(moved)

    def _make_agreement(
        self,
        tx: Any,
        stored: StoredApplication,
        application: Application,
        decisions: Iterable[StoredDecision],
        actor: str,
        now: str,
    ) -> None:
        previous = tx.agreements.agreements(stored.project)
        before = previous[-1].spec if previous else None
        conditions: dict[str, Any] = {"row_filters": [], "disclosure": {}}
        columns = {d: sorted(c) for d, c in application.datasets.items()}
        for d in decisions:
            if d.decision != "approve":
                continue
            for dataset, kept in (d.conditions.get("columns") or {}).items():
                columns[dataset] = sorted(set(columns.get(dataset, ())) & set(kept))
            conditions["row_filters"] += list(d.conditions.get("row_filters") or [])
            if d.conditions.get("disclosure"):
                conditions["disclosure"][d.department] = dict(d.conditions["disclosure"])
        spec = {
            "title": application.title,
            "sponsor": application.sponsor,
            "purpose": application.purpose,
            "legal_gateway": application.legal_gateway,
            "datasets": sorted(application.datasets),
            "columns": columns,
            "members": list(application.members),
            "outputs": application.outputs,
            "expires": application.expires,
            "dpia": application.dpia,
            "conditions": conditions,
            "application": stored.id,
            "approved": now,
        }
        version = (previous[-1].version + 1) if previous else 1
        tx.agreements.add_agreement(StoredAgreement(stored.project, version, spec, stored.id, now))
        self.audit.append(
            tx,
            EventKind.AGREEMENT_MADE,
            actor,
            stored.project,
            application=stored.id,
            version=version,
            changes=agreement_diff(before, spec),
        )

    def _conditions(self, application: Application, department: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        catalog = self.catalog()
        own = {d for d in application.datasets if catalog.get(d).department == department}
        unknown = set(raw) - {"columns", "row_filters", "disclosure"}
        if unknown:
            raise TrustError(f"Conditions are columns, row_filters and disclosure; not {', '.join(sorted(unknown))}.")
        checked: dict[str, Any] = {}
        columns = dict(raw.get("columns") or {})
        for dataset, kept in columns.items():
            if dataset not in own:
                raise TrustError(
                    f"{department} sets conditions on its own datasets ({', '.join(sorted(own))}), not {dataset}."
                )
            extra = set(kept) - set(application.datasets[dataset])
            if extra or not kept:
                raise TrustError(
                    f"Fewer columns means some of those asked for in {dataset} ({', '.join(sorted(application.datasets[dataset]))})."
                )
        if columns:
            checked["columns"] = {d: sorted(set(c)) for d, c in columns.items()}
        filters = []
        for f in raw.get("row_filters") or ():
            dataset, expression = str(f.get("dataset", "")), str(f.get("expression", "")).strip()
            if dataset not in own:
                raise TrustError(
                    f"{department} sets row filters on its own datasets ({', '.join(sorted(own))}), not {dataset!r}."
                )
            filters.append({"dataset": dataset, "expression": check_filter(expression, catalog.get(dataset))})
        if filters:
            checked["row_filters"] = filters
        disclosure = dict(raw.get("disclosure") or {})
        if disclosure:
            defaults = self._policy_data().get("disclosure", {}).get("defaults", {})
            checked["disclosure"] = stricter(disclosure, defaults)
        return checked

    # -- what applications must be -------------------------------------------------------------------
    def _check(self, application: Application) -> None:
        """The shape the policy needs; the policy itself decides what may be approved (``guidance``)."""
        if not PROJECT_ID.match(application.project):
            raise TrustError(
                f"A project id is 3 to 63 lower-case letters, digits and hyphens, starting with a letter; "
                f"{application.project!r} is not one."
            )
        existing = self.access.projects()
        if application.amends and application.project not in existing:
            raise UnknownName(
                f"No project {application.project!r} to amend.{did_you_mean(application.project, existing)}"
            )
        if not application.amends and application.project in existing:
            raise TrustError(
                f"Project {application.project} exists; apply to amend it (amends: true) or choose another id."
            )
        catalog = self.catalog()
        known = [d.id for d in catalog]
        for dataset, columns in application.datasets.items():
            if dataset not in known:
                raise UnknownName(f"No dataset {dataset!r} in the catalogue.{did_you_mean(dataset, known)}")
            names = [c.name for c in catalog.get(dataset).columns]
            for column in columns:
                if column not in names:
                    raise UnknownName(f"{dataset} has no column {column!r}.{did_you_mean(column, names)}")
        users = [u.name for u in self.access.users()]
        for member in application.members:
            if member not in users:
                raise UnknownName(f"No user {member!r} to make a member.{did_you_mean(member, users)}")
        try:
            if application.expires:
                dt.date.fromisoformat(application.expires)
        except ValueError:
            raise TrustError(f"expires is a date like 2027-03-31, not {application.expires!r}.") from None

    def _assess(self, applicant: str, application: Application) -> Assessment:
        return self.assess(self.document(applicant, application))

    def document(self, applicant: str, application: Application) -> dict[str, Any]:
        """The input the Rego assesses (docs/policies.md, "Rules for applications")."""
        catalog = self.catalog()
        user = self.access.user(applicant)
        datasets = []
        for dataset, columns in application.datasets.items():
            try:
                ds = catalog.get(dataset)
            except Exception:  # noqa: BLE001 - an unknown dataset was refused by _check
                continue
            by_name = {c.name: c for c in ds.columns}
            datasets.append(
                {
                    "id": dataset,
                    "department": ds.department,
                    "flags": list(ds.flags),
                    "columns": [
                        {
                            "name": c,
                            "role": by_name[c].role.value if c in by_name else "unknown",
                            "flags": list(by_name[c].flags) if c in by_name else [],
                            "reason": reason,
                        }
                        for c, reason in columns.items()
                    ],
                }
            )
        return {
            "application": {
                "id": application.project,
                "title": application.title,
                "applicant": {"name": user.name, "organisation": user.organisation, "roles": list(user.roles)},
                "sponsor": application.sponsor,
                "purpose": application.purpose,
                "legal_gateway": application.legal_gateway,
                "datasets": datasets,
                "members": list(application.members),
                "outputs": application.outputs,
                "expires": application.expires,
                "dpia": application.dpia,
                "amends": application.amends,
                "today": self.today(),
            }
        }

    # -- the public register ---------------------------------------------------------------------------
    def register(self) -> builtins.list[RegisterEntry]:
        """Agreements in force (not expired), for the public register: what is shared, by whom, with whom,
        why, under which gateway, until when; organisations, never people."""
        gateways = self._policy_data().get("gateways", {})
        users = {u.name: u.organisation for u in self.access.users()}
        catalog = self.catalog()
        today = self.today()
        with self.store.read() as tx:
            current = tx.agreements.current()
        entries = []
        for project, a in sorted(current.items()):
            spec = a.spec
            if str(spec.get("expires", "")) < today:
                continue
            gateway = gateways.get(spec.get("legal_gateway"), {}) if isinstance(gateways, Mapping) else {}
            departments = sorted(
                {catalog.get(d).department for d in spec.get("datasets", []) if d in {x.id for x in catalog}}
            )
            shared = sorted({spec.get("sponsor", "")} | {users.get(m, "") for m in spec.get("members", [])} - {""})
            entries.append(
                RegisterEntry(
                    project,
                    str(spec.get("title", "")),
                    str(spec.get("purpose", "")),
                    str(gateway.get("name") or spec.get("legal_gateway", "")),
                    str(gateway.get("citation", "")),
                    tuple(departments),
                    tuple(spec.get("datasets", [])),
                    tuple(shared),
                    str(spec.get("outputs", "")),
                    str(spec.get("approved", a.created))[:10],
                    str(spec.get("expires", "")),
                    a.version,
                )
            )
        return entries

    def history(self, user_name: str, project: str) -> builtins.list[dict[str, Any]]:
        """Every version of a project's agreement, with what changed from the one before."""
        self.access.user(user_name)
        with self.store.read() as tx:
            versions = tx.agreements.agreements(project)
        if not versions:
            raise UnknownName(f"No agreement for project {project!r}.")
        out, before = [], None
        for a in versions:
            out.append({"version": a.version, "application": a.application, "created": a.created,
                        "changes": agreement_diff(before, a.spec)})  # fmt: skip
            before = a.spec
        return out


def agreement_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> builtins.list[str]:
    """What changed between two versions of an agreement, one line each, as a data owner reads it."""
    if before is None:
        return ["new agreement"]
    lines = []
    for key in sorted(set(before) | set(after)):
        if key in ("application", "approved"):
            continue
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            added = [x for x in new if x not in old]
            removed = [x for x in old if x not in new]
            lines += [f"{key}: added {x}" for x in added] + [f"{key}: removed {x}" for x in removed]
        else:
            lines.append(f"{key}: {old!r} -> {new!r}")
    return lines


def check_filter(expression: str, dataset: Any) -> str:
    """A row filter a data owner sets: a condition on the dataset's own columns with comparisons, AND, OR,
    NOT, IN, BETWEEN and IS NULL only; returned as the trust will apply it."""
    names = {c.name for c in dataset.columns}
    try:
        tree = sqlglot.parse_one(expression, read="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        raise TrustError(f"The row filter {expression!r} is not a SQL condition.") from None
    for node in tree.walk():
        if not isinstance(node, _FILTER_NODES):
            raise TrustError(
                f"A row filter uses comparisons, AND, OR, NOT, IN, BETWEEN and IS NULL on {dataset.id}'s columns; "
                f"{node.sql(dialect='duckdb')!r} is not allowed."
            )
        if isinstance(node, exp.Column) and (node.table or node.name not in names):
            raise TrustError(f"{dataset.id} has no column {node.sql()!r}.{did_you_mean(node.name, sorted(names))}")
    if not isinstance(tree, (exp.Not, exp.And, exp.Or, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT,
                             exp.LTE, exp.In, exp.Between, exp.Is)):  # fmt: skip
        raise TrustError(f"The row filter {expression!r} must be a condition (true or false for each row).")
    return tree.sql(dialect="duckdb")


def stricter(raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Thresholds a data owner asks for, each at least as strict as the trust's defaults."""
    unknown = set(raw) - set(THRESHOLD_KEYS)
    if unknown:
        raise TrustError(f"Stricter thresholds are {', '.join(THRESHOLD_KEYS)}; not {', '.join(sorted(unknown))}.")
    out: dict[str, Any] = {}
    try:
        if "min_units" in raw:
            units = int(raw["min_units"])
            if units < int(defaults.get("min_units", 10)):
                raise TrustError(f"min_units may only be raised (at least {defaults.get('min_units', 10)}).")
            out["min_units"] = units
        if "p_percent" in raw:
            share = float(raw["p_percent"])
            if not float(defaults.get("p_percent", 0.1)) <= share < 1:
                raise TrustError(f"p_percent may only be raised (from {defaults.get('p_percent', 0.1)}, below 1).")
            out["p_percent"] = share
        if "dominance_k" in raw:
            k = float(raw["dominance_k"])
            base = float(defaults.get("dominance", {}).get("k", 0.9))
            if not 0 < k <= base:
                raise TrustError(f"dominance_k may only be lowered (from {base}).")
            out["dominance"] = {"k": k}
    except (TypeError, ValueError):
        raise TrustError(
            "Thresholds are numbers: min_units a whole number, p_percent and dominance_k fractions."
        ) from None
    return out


def register_csv(entries: Sequence[RegisterEntry]) -> str:
    import csv
    import io

    sink = io.StringIO()
    w = csv.writer(sink, lineterminator="\n")
    w.writerow(["project", "title", "purpose", "legal_gateway", "gateway_citation", "departments", "datasets",
                "shared_with", "outputs", "approved", "expires", "version"])  # fmt: skip
    for e in entries:
        w.writerow([e.project, e.title, e.purpose, e.legal_gateway, e.gateway_citation, "; ".join(e.departments),
                    "; ".join(e.datasets), "; ".join(e.shared_with), e.outputs, e.approved, e.expires, e.version])  # fmt: skip
    return sink.getvalue()
