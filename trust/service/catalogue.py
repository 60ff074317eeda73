"""The catalogue as the service offers it: registrations bound to where the data lives, once.

``bound()`` binds each registration's locations and reads the footers at the departments, the
first time it is asked (the server warms it at start); ``registrations()`` reads only the YAML,
for work that must not contact the departments.
"""

from __future__ import annotations

import threading
from pathlib import Path

from trust.catalog import Catalog, Dataset, load_catalog, register
from trust.config import Config
from trust.engine.sandbox import Limits
from trust.service.access import Access, User


def engine_limits(config: Config) -> Limits:
    return Limits(memory_limit=config.memory_limit, threads=config.threads, timeout_s=config.query_timeout_s)


class Catalogue:
    def __init__(self, config: Config, access: Access) -> None:
        self.config, self.access = config, access
        self._bound: Catalog | None = None
        self._lock = threading.Lock()

    def bound(self) -> Catalog:
        """The registered catalogue: locations bound and footers read once, on first use."""
        with self._lock:
            if self._bound is None:
                self._bound = register(
                    self.registrations(), self.config.locations, self.config.credentials, engine_limits(self.config)
                )
            return self._bound

    def registrations(self) -> Catalog:
        """The catalogue as registered in YAML, without contacting the departments."""
        return load_catalog(Path(self.config.catalog_dir))

    def for_user(self, user: User, project: str | None = None) -> list[tuple[Dataset, tuple[str, ...]]]:
        """Every dataset, with which of the caller's projects (or just ``project``) may use it."""
        if project is not None:
            self.access.project(project)
            self.access.check_can_see_project(user, project)
            projects = {project: self.access.project(project)}
        else:
            projects = self.access.member_projects(user.name)
        return [
            (ds, tuple(p for p, spec in projects.items() if ds.id in spec.get("datasets", ()))) for ds in self.bound()
        ]
