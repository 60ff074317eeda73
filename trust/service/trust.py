"""The trust server's state, composed once: settings, store, audit, policy and the business services.

Interfaces (server, client-facing pieces, CLI, magic) hold a ``Trust`` and call its services:
``trust.access`` (users, tokens, projects), ``trust.catalog`` (datasets), ``trust.queries`` (the
pipeline and stored outputs), ``trust.airlock`` (release requests), ``trust.checkers`` (the
checkers' web sessions), ``trust.notifier`` (e-mail and webhooks about requests; ``trust serve``
starts it). No service calls back up into ``Trust``; each gets what it needs here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trust.audit.export import TransparencyReport, transparency_report, write_report
from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.catalog import Catalog
from trust.catalog.search import Hit
from trust.config import Config
from trust.errors import UnknownName
from trust.outputs.output import Output
from trust.outputs.release import ReleaseRequest
from trust.policy import select_policy
from trust.policy.applications import Assessment
from trust.policy.explain import Explanation
from trust.policy.live import LivePolicy
from trust.service.access import Access
from trust.service.agreements import Agreements
from trust.service.airlock import Airlock
from trust.service.catalogue import Catalogue
from trust.service.checkers import CheckerSessions
from trust.service.notify import Notifier, NotifySettings
from trust.service.queries import Queries
from trust.store import Store


class Trust:
    """Everything the trust server holds."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.state_db)
        self.audit = AuditLog(self.store)
        self.access = Access(
            self.store, self.audit, Path(config.policies_dir), token_lifetime_days=config.token_lifetime_days
        )
        self.policy = LivePolicy(
            select_policy(config),
            directory=Path(config.policies_dir),
            version=self.access.agreements_version,
            projects=self.access.projects,
        )
        self.catalog = Catalogue(config, self.access, self.store, self.audit)
        self.queries = Queries(config, self.store, self.audit, self.access, self.catalog, self.policy)
        self.airlock = Airlock(
            config.home, self.store, self.audit, self.access, stale=self.catalog.stale, integrity=self.queries.integrity
        )
        self.integrity = self.queries.integrity
        self.checkers = CheckerSessions(self.store, self.audit, self.access)
        self.agreements = Agreements(
            self.store, self.audit, self.access, catalog=self.catalog.registrations, assess=self._assess_application
        )
        self.notifier = Notifier(
            self.store,
            self.audit,
            NotifySettings.from_config(config),
            project=self._project,
            departments_of=self._departments_of,
        )

    def _assess_application(self, document: Mapping[str, Any]) -> Assessment:
        from trust.policy.applications import assess

        return assess(Path(self.config.policies_dir), document["application"])

    def _departments_of(self, datasets: list[str]) -> set[str]:
        catalog = self.catalog.registrations()
        known = {d.id: d.department for d in catalog}
        return {known[d] for d in datasets if d in known}

    def _project(self, project_id: str) -> Mapping[str, Any]:
        try:
            return self.access.project(project_id)
        except UnknownName:  # a project since removed: notify without its sponsor
            return {}

    @classmethod
    def open(cls, home: Path | None = None) -> Trust:
        return cls(Config.load(home))

    def session(self, user: str, project: str) -> Session:
        """One analyst on one project, in-process (checked now: the user and the project exist)."""
        self.access.user(user)
        self.access.project(project)
        return Session(self, user, project)

    def transparency_report(self) -> TransparencyReport:
        """What data was used, by which project, for which purpose, and what was released."""
        with self.store.read() as tx:
            requests = [tx.releases.get(r.id) for r in tx.releases.list(limit=100_000)]
            outputs = {o.id: o.datasets for o in tx.outputs.list(limit=1_000_000)}
        return transparency_report(
            self.audit.events(),
            requests,
            output_datasets=outputs,
            projects=self.access.projects(),
            departments={d.id: d.department for d in self.catalog.registrations()},
            organisations={u.name: u.organisation for u in self.access.users()},
            chain=self.audit.verify(),
        )

    def export_transparency_report(self, folder: Path, *, actor: str = "admin") -> TransparencyReport:
        """Write the report's files into ``folder`` and record that it was exported."""
        report = self.transparency_report()
        written = write_report(report, folder)
        self.audit.record(
            EventKind.AUDIT_EXPORTED, actor, None, files={p.name: d for p, d in written.items()}, chain=report.chain
        )
        return report


class Session:
    """One analyst working on one project, in-process (the embedded mode of the same service).

    What it returns is exactly what an analyst's client receives from the server.
    """

    def __init__(self, trust: Trust, user: str, project: str) -> None:
        self.trust, self.user, self.project = trust, user, project

    def __repr__(self) -> str:
        return f"Session(user={self.user!r}, project={self.project!r})"

    def sql(self, text: str, *, on_progress: Callable[[Mapping[str, object]], None] | None = None) -> Output:
        """Run one governed query; the output exactly as an analyst's client would receive it. Ctrl-C or a
        kernel interrupt while it runs cancels it (``QueryCancelled``); ``on_progress`` sees its stages."""
        out = self.trust.queries.run(self.user, self.project, text, on_progress=on_progress)
        return dataclasses.replace(out.for_analyst(), origin=self)

    def explain(self, text: str) -> Explanation:
        return self.trust.queries.explain(self.user, self.project, text)

    def catalog(self) -> Catalog:
        return self.trust.catalog.bound()

    def search(self, text: str, *, limit: int | None = None) -> list[tuple[Hit, tuple[str, ...]]]:
        """Datasets matching ``text``, best first, each with why and which of this analyst's projects may use it."""
        return self.trust.catalog.search(text, self.trust.access.user(self.user), limit=limit)

    def request_release(
        self,
        outputs: Sequence[str],
        justification: str,
        *,
        cell_reasons: Mapping[str, Mapping[Any, str]] | None = None,
        submit: bool = True,
    ) -> ReleaseRequest:
        """Ask for ``outputs`` (ids of this project's outputs) to leave the trust, as this session's analyst."""
        return self.trust.airlock.request(
            self.user, list(outputs), justification, cell_reasons=cell_reasons, submit=submit
        )


def connect(user: str, project: str, *, home: Path | None = None) -> Session:
    """An embedded session: ``trust.connect(user="ana", project="demo-employment-support")``."""
    return Trust.open(home).session(user, project)
