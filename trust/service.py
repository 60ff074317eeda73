"""The service layer: the one place that composes the query pipeline (DESIGN section 4).

Server, client, CLI and the Jupyter magic call this and never reach DuckDB, Rego or storage
themselves. ``Trust`` is the server's state; ``Session`` is one analyst on one project.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from trust.audit.log import AuditLog
from trust.catalog import Catalog, access_for, load_catalog, register
from trust.config import Config
from trust.engine.execute import execute
from trust.engine.sandbox import Limits
from trust.errors import NotAuthorised, PolicyDenied, QueryRejected, TrustError, UnknownName, did_you_mean
from trust.outputs.output import Output
from trust.policy import select_policy
from trust.policy.embedded import policy_data
from trust.sdc import differencing
from trust.sdc.protect import protect
from trust.sdc.withhold import withhold
from trust.sql.describe import describe
from trust.sql.parse import parse
from trust.sql.protect import check_structure
from trust.sql.resolve import resolve
from trust.sql.rewrite import Plan, obligations_from, rewrite
from trust.sql.validate import validate
from trust.store import Store

ROLES = ("analyst", "output_checker", "policy_owner", "admin")


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    organisation: str
    disabled: bool = False


@dataclass(frozen=True)
class Checked:
    """A query that passed the gatekeeper and the policy, ready to run."""

    document: dict[str, Any]
    decision: Any
    plan: Plan


class Trust:
    """Everything the trust server holds: settings, catalogue, policy, state."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.state_db)
        self.audit = AuditLog(self.store)
        self.policy = select_policy(config)
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, home: Path | None = None) -> Trust:
        return cls(Config.load(home))

    @property
    def limits(self) -> Limits:
        return Limits(memory_limit=self.config.memory_limit, threads=self.config.threads,
                      timeout_s=self.config.query_timeout_s)

    # -- catalogue -------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """The registered catalogue: locations bound and footers read once, on first use."""
        with self._lock:
            if self._catalog is None:
                registrations = load_catalog(Path(self.config.catalog_dir))
                self._catalog = register(registrations, self.config.locations, self.config.credentials, self.limits)
        return self._catalog

    def registrations(self) -> Catalog:
        """The catalogue as registered in YAML, without contacting the departments."""
        return load_catalog(Path(self.config.catalog_dir))

    # -- users and projects ----------------------------------------------------------------
    def add_user(self, name: str, roles: tuple[str, ...], organisation: str) -> User:
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise TrustError(f"Unknown role(s) {bad}; roles are {', '.join(ROLES)}.")
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO users (name, roles, organisation, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET roles = excluded.roles, organisation = excluded.organisation, disabled = 0",
                (name, ",".join(roles), organisation, _now()),
            )
        self.audit.append("user_added", "admin", None, user=name, roles=list(roles), organisation=organisation)
        return User(name, tuple(roles), organisation)

    def user(self, name: str) -> User:
        with self.store.connect() as con:
            row = con.execute("SELECT name, roles, organisation, disabled FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                names = [r[0] for r in con.execute("SELECT name FROM users")]
                raise UnknownName(f"No user {name!r} is registered with the trust.{did_you_mean(name, names)}", user=name)
        user = User(row[0], tuple(r for r in row[1].split(",") if r), row[2], bool(row[3]))
        if user.disabled:
            raise NotAuthorised(f"User {name!r} is disabled; ask an administrator.", user=name)
        return user

    def projects(self) -> dict[str, dict[str, Any]]:
        return dict(policy_data(Path(self.config.policies_dir)).get("projects", {}))

    def project(self, project_id: str) -> dict[str, Any]:
        projects = self.projects()
        if project_id not in projects:
            raise UnknownName(
                f"No project {project_id!r} is registered.{did_you_mean(project_id, projects)}", project=project_id
            )
        return {"id": project_id, **projects[project_id]}

    def session(self, user: str, project: str) -> Session:
        self.user(user)
        self.project(project)
        return Session(self, user, project)

    # -- the pipeline ----------------------------------------------------------------------
    def policy_input(self, user: User, project: dict[str, Any], shape_input: dict[str, Any]) -> dict[str, Any]:
        return {
            "identity": {"user": user.name, "roles": list(user.roles), "organisation": user.organisation},
            "project": {k: project.get(k) for k in ("id", "purpose", "legal_gateway", "datasets")},
            "context": {"date": dt.date.today().isoformat()},
            "query": shape_input,
        }

    def check(self, user_name: str, project_id: str, sql: str) -> Checked:
        """Parse, validate, resolve, describe and decide; raise if anything refuses."""
        user, project = self.user(user_name), self.project(project_id)
        cfg = self.config
        try:
            parsed = parse(sql, max_length=cfg.max_sql_length, max_depth=cfg.max_depth)
            validate(parsed, max_depth=cfg.max_depth)
            catalog = self.catalog
            resolved = resolve(parsed, catalog)
            description = describe(resolved, catalog)
            check_structure(description)
            joins = sum(1 for _ in description.resolved.tree.find_all(exp.Join))  # shape.joins dedupes key pairs
            if joins > cfg.max_joins:
                raise QueryRejected(f"The query has {joins} joins; the limit is {cfg.max_joins}. Join fewer datasets.",
                                    rule="too_many_joins")
            document = self.policy_input(user, project, description.shape.to_policy_input())
            decision = self.policy.decide(document)
            if not decision.allow:
                raise PolicyDenied([dict(d) for d in decision.deny])
            plan = rewrite(description, catalog, obligations_from(decision.row_filters, decision.column_masks),
                           max_rows=cfg.max_output_groups,
                           depth=max(10, decision.disclosure.min_units, decision.disclosure.dominance_n))
        except RecursionError:
            raise QueryRejected("The query is nested too deeply to analyse; simplify it with CTEs.",
                                rule="nesting_too_deep") from None
        return Checked(document=document, decision=decision, plan=plan)

    def run(self, user_name: str, project_id: str, sql: str) -> Output:
        """The whole pipeline for one query; every outcome is audited before it is returned."""
        try:
            checked = self.check(user_name, project_id, sql)
        except TrustError as exc:
            self.audit.append("query_refused", user_name, project_id, sql=sql, error=type(exc).__name__,
                              rule=exc.context.get("rule"), message=exc.message)
            raise
        plan, catalog = checked.plan, self.catalog
        datasets = [catalog.get(d) for d in plan.datasets]
        try:
            result = execute(plan.sql, access_for(datasets, self.config.credentials), self.limits,
                             departments=tuple(sorted({d.department for d in datasets})))
            protected = protect(result.table, plan, checked.decision.disclosure, max_rows=self.config.max_output_groups,
                                history=differencing.StoredHistory(self.store, project_id))
            protected = withhold(protected)  # a small row's presence would answer a question: never shown
        except TrustError as exc:
            self.audit.append("query_failed", user_name, project_id, sql=sql, error=type(exc).__name__, message=exc.message)
            raise
        output = Output(
            id="out-" + secrets.token_hex(6),
            user=user_name,
            project=project_id,
            created=_now(),
            sql=sql,
            executed_sql=plan.sql,
            table=protected.table,
            suppressed=protected.suppressed,
            report=protected.report,
            decision=checked.decision.to_json(),
            fingerprints={d.id: d.fingerprint for d in datasets},
            # Rows held by the datasets read: the engine reads every row of the needed columns, less
            # any row groups its statistics let it skip.
            stats={"elapsed_s": round(result.elapsed_s, 4), "rows": protected.table.num_rows,
                   "datasets": {d.id: d.row_count for d in datasets},
                   "rows_scanned": sum(d.row_count for d in datasets)},
        )
        self._save(output)
        # The shown cells' populations, so the project's later outputs cannot difference with them.
        differencing.record(self.store, project_id, output.id, protected.scheme, protected.populations)
        return output

    def _save(self, out: Output) -> None:
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, out.table.schema) as writer:
            writer.write_table(out.table)
        with self.store.transaction() as con:
            con.execute(
                "INSERT INTO outputs (id, user_name, project, created, sql, executed_sql, decision, report, fingerprints, table_ipc) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (out.id, out.user, out.project, out.created, out.sql, out.executed_sql, json.dumps(out.decision),
                 json.dumps(out.report.to_json()), json.dumps(dict(out.fingerprints)), sink.getvalue()),
            )
        self.audit.append("output_created", out.user, out.project, output=out.id, datasets=sorted(out.fingerprints),
                          fingerprints=dict(out.fingerprints), status=out.report.status.value,
                          cells=dict(out.report.counts()), executed_sql_sha256=_sha(out.executed_sql),
                          sql_sha256=_sha(out.sql), decision=out.decision)

    # -- identity, access and stored outputs (the server's side; issue 6) -------------------
    # Imported here so the embedded pipeline above does not depend on the server's modules.
    def users(self) -> list[Any]:
        from trust import identity

        return identity.list_users(self.store)

    def disable_user(self, name: str, *, actor: str = "admin") -> None:
        from trust import identity

        identity.disable_user(self.store, self.audit, name, actor=actor)

    def issue_token(self, user: str, *, label: str = "", expires_days: float | None = None,
                    actor: str = "admin") -> Any:
        """A new bearer token for ``user``; its ``secret`` is shown once and stored only as a hash."""
        from trust import identity

        return identity.issue_token(self.store, self.audit, user, label=label, expires_days=expires_days, actor=actor)

    def revoke_token(self, token: str, *, actor: str = "admin") -> Any:
        from trust import identity

        return identity.revoke_token(self.store, self.audit, token, actor=actor)

    def tokens(self, user: str | None = None) -> list[Any]:
        from trust import identity

        return identity.list_tokens(self.store, user)

    def authenticate(self, secret: str | None) -> User:
        """The enabled user a bearer token belongs to; any failure is the same ``NotAuthenticated``."""
        from trust import identity

        name = identity.authenticate(self.store, secret)
        try:
            return self.user(name)
        except TrustError:
            raise identity.NotAuthenticated() from None

    def member_projects(self, user_name: str) -> dict[str, dict[str, Any]]:
        """The projects whose policy data lists ``user_name`` as a member."""
        return {pid: {"id": pid, **p} for pid, p in self.projects().items() if user_name in p.get("members", ())}

    def can_see_project(self, user: User, project_id: str) -> bool:
        """Members see their projects' outputs; output checkers and administrators see every project's."""
        return bool({"output_checker", "admin"} & set(user.roles)) or project_id in self.member_projects(user.name)

    def check_can_see_project(self, user: User, project_id: str) -> None:
        if not self.can_see_project(user, project_id):
            self.audit.append("access_denied", user.name, project_id, what="project")
            raise NotAuthorised(f"You are not a member of project {project_id}; ask the project lead to add you.",
                                project=project_id)

    def outputs_for(self, user_name: str, project: str | None = None) -> list[Any]:
        """Summaries of the stored outputs ``user_name`` may see, newest first."""
        from trust.outputs.repository import list_outputs

        user = self.user(user_name)
        if project is not None:
            self.project(project)
            self.check_can_see_project(user, project)
            return list_outputs(self.store, projects=[project])
        if {"output_checker", "admin"} & set(user.roles):
            return list_outputs(self.store)
        return list_outputs(self.store, projects=list(self.member_projects(user_name)))

    def output(self, user_name: str, output_id: str) -> Output:
        """One stored output, if ``user_name`` may see its project; otherwise ``NotAuthorised``."""
        from trust.outputs.repository import load_output, output_summary

        user = self.user(user_name)
        summary = output_summary(self.store, output_id)
        if not self.can_see_project(user, summary.project):
            self.audit.append("access_denied", user.name, summary.project, what="output", output=output_id)
            raise NotAuthorised(f"Output {output_id} belongs to a project you are not a member of.", output=output_id)
        return load_output(self.store, output_id)

    def catalog_for(self, user_name: str, project: str | None = None) -> list[tuple[Any, tuple[str, ...]]]:
        """Every dataset, with which of the caller's projects (or just ``project``) may use it."""
        user = self.user(user_name)
        if project is not None:
            self.project(project)
            self.check_can_see_project(user, project)
            projects = {project: self.project(project)}
        else:
            projects = self.member_projects(user_name)
        return [(ds, tuple(p for p, spec in projects.items() if ds.id in spec.get("datasets", ())))
                for ds in self.catalog]

    # -- the airlock: release requests, reviews and bundles (issue 7; composed in trust/outputs/airlock.py) --
    def request_release(self, user_name: str, outputs: Any, justification: str, *, cell_reasons: Any = None,
                        submit: bool = True, key: str | None = None) -> Any:
        """Ask for ``outputs`` (ids, of one of your projects) to leave the trust; submitted unless ``submit=False``.

        ``cell_reasons`` maps an output id to {"ROW:COLUMN": reason} for its cells in review. A retry
        with the same ``key`` returns the first request instead of making another.
        """
        from trust.outputs import airlock

        return airlock.request_release(self, user_name, outputs, justification, cell_reasons=cell_reasons,
                                       submit=submit, key=key)

    def submit_release(self, user_name: str, request_id: str) -> Any:
        from trust.outputs import airlock

        return airlock.submit_release(self, user_name, request_id)

    def withdraw_release(self, user_name: str, request_id: str) -> Any:
        from trust.outputs import airlock

        return airlock.withdraw_release(self, user_name, request_id)

    def edit_release(self, user_name: str, request_id: str, *, justification: str | None = None,
                     cell_reasons: Any = None, outputs: Any = None) -> Any:
        from trust.outputs import airlock

        return airlock.edit_release(self, user_name, request_id, justification=justification,
                                    cell_reasons=cell_reasons, outputs=outputs)

    def review_release(self, checker: str, request_id: str, decisions: Any) -> Any:
        """``decisions`` maps every output id of the request to (approve | reject | changes, comment)."""
        from trust.outputs import airlock

        return airlock.review_release(self, checker, request_id, decisions)

    def release_request(self, user_name: str, request_id: str) -> Any:
        from trust.outputs import airlock

        return airlock.release_request(self, user_name, request_id)

    def release_requests(self, user_name: str, *, project: str | None = None, states: Any = None) -> list[Any]:
        from trust.outputs import airlock

        return airlock.release_requests(self, user_name, project=project, states=states)

    def release_queue(self, checker: str) -> list[Any]:
        from trust.outputs import airlock

        return airlock.release_queue(self, checker)

    def release_output_authors(self, request: Any) -> set[str]:
        from trust.outputs import airlock

        return airlock.release_output_authors(self, request)

    def release_archive(self, user_name: str, request_id: str) -> Path:
        from trust.outputs import airlock

        return airlock.release_archive(self, user_name, request_id)

    def resume_releases(self) -> list[str]:
        """Release every approved request a crash left unreleased (the server calls this as it starts)."""
        from trust.outputs import airlock

        return airlock.resume(self)

    def open_checker_session(self, token: str | None) -> Any:
        """Sign an output checker in to the web pages with their bearer token; the session goes in a cookie."""
        from trust.server import checker_sessions

        user = self.authenticate(token)
        if "output_checker" not in user.roles:
            self.audit.append("access_denied", user.name, None, what="checker_pages")
            raise NotAuthorised(f"Only output checkers sign in to these pages; {user.name} is not one.")
        return checker_sessions.open_session(self.store, self.audit, user.name)

    def checker_session(self, secret: str | None) -> tuple[User, Any] | None:
        """The signed-in checker and their session, or None if the cookie names no live session."""
        from trust.server import checker_sessions

        session = checker_sessions.find_session(self.store, secret)
        if session is None:
            return None
        try:
            user = self.user(session.user)
        except TrustError:
            return None
        return (user, session) if "output_checker" in user.roles else None

    def close_checker_session(self, secret: str) -> None:
        from trust.server import checker_sessions

        checker_sessions.end_session(self.store, self.audit, secret)

    def transparency_report(self) -> Any:
        """What data was used, by which project, for which purpose, and what was released (trust.audit.export)."""
        from trust.audit.export import transparency_report
        from trust.outputs import release_store
        from trust.outputs.repository import list_outputs

        with self.store.connect() as con:
            requests = [release_store.load_request(con, r.id) for r in release_store.list_requests(con, limit=100_000)]
        return transparency_report(
            self.audit.events(), requests,
            output_datasets={o.id: o.datasets for o in list_outputs(self.store, limit=1_000_000)},
            projects=self.projects(), departments={d.id: d.department for d in self.registrations()},
            organisations={u.name: u.organisation for u in self.users()}, chain=self.audit.verify())


class Session:
    """One analyst working on one project, in-process (the embedded mode of the same service)."""

    def __init__(self, trust: Trust, user: str, project: str) -> None:
        self.trust, self.user, self.project = trust, user, project

    def sql(self, text: str) -> Output:
        return self.trust.run(self.user, self.project, text)

    def explain(self, text: str) -> dict[str, Any]:
        checked = self.trust.check(self.user, self.project, text)
        return {"input": checked.document, "decision": checked.decision.to_json(), "sql": checked.plan.sql}

    def catalog(self) -> Catalog:
        return self.trust.catalog


def connect(user: str, project: str, *, home: Path | None = None) -> Session:
    """An embedded session: ``trust.connect(user="ana", project="demo-employment-support")``."""
    return Trust.open(home).session(user, project)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()
