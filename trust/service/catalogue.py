"""The catalogue as the service offers it: each registration bound to where its data lives, on its
own, with its status and the version of the data it serves.

Binding lists a dataset's files, reads their footers and asks the servers for each file's version
(``trust.catalog.register``). Every dataset binds on its own thread with the departments' time
limits, so one department that is down, hanging or changed leaves every other dataset working:

- **available**: what the department serves is the registered version (``trust.catalog.versions``).
  The first binding of a dataset records version 1 (audited ``dataset_registered``).
- **unavailable**: its department could not be reached or read (or the trust is not configured to
  reach it); retried in the background (``retry``), and whenever a query needs it.
- **changed**: the department serves something else than the registered version: found when binding,
  or by a query comparing the footers it read (``verify_read``) or the files a pattern now matches
  (``verify_listing``). Refused with ``DatasetChanged`` until its data owner accepts the new state
  (``refresh``, audited), which records the next version and supersedes the last.

The store holds versions and changes, so several processes over one trust home agree: a change
found by one refuses queries in all, and a refresh by the command line is taken up by the server.

Finding data works on the registrations alone (no department is contacted): ``search`` (ranked,
``trust.catalog.search``), ``page`` (what a dataset links to on which keys, and which projects may
use it) and ``dcat`` (the catalogue as DCAT JSON-LD for government catalogues).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import logging
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.catalog import BindFailed, Catalog, Dataset, Status, access_for, bind_dataset, load_catalog, problems
from trust.catalog.dcat import to_dcat
from trust.catalog.links import Link, links
from trust.catalog.model import FileFooter
from trust.catalog.search import Glossary, Hit, search
from trust.catalog.versions import Change, FileVersion, Manifest, Version, changes
from trust.config import Config
from trust.engine.footers import read_footers
from trust.engine.probe import ProbeFailed, list_matching
from trust.engine.sandbox import Limits, Secret
from trust.errors import DatasetChanged, DatasetUnavailable, NotAuthorised, TrustError
from trust.service.access import Access, User
from trust.store import StateStore

log = logging.getLogger("trust.catalog")
REGISTRATION = "registration"  # who accepted a dataset's first version
DATA_OWNER = "data_owner"


def engine_limits(config: Config, departments: Iterable[str] = ()) -> Limits:
    """The engine's limits for reading from ``departments``: the strictest of their request limits."""
    own = [config.department(d) for d in departments]
    return Limits(
        memory_limit=config.memory_limit,
        threads=config.threads,
        timeout_s=config.query_timeout_s,
        http_timeout_s=min((d.timeout_s for d in own), default=config.department_timeout_s),
        http_retries=min((d.retries for d in own), default=config.department_retries),
        spill_dir=spill_dir(config),
        spill_limit=str(config.spill_limit),
    )


def spill_dir(config: Config) -> str:
    """Where queries spill: ``spill_dir`` in trust.toml, else trust-spill in the system's temporary directory."""
    return str(config.spill_dir or Path(tempfile.gettempdir()) / "trust-spill")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DatasetStatus:
    """One dataset's status, as the catalogue, the health endpoint and ``trust catalog list`` show it."""

    id: str
    department: str
    status: Status
    reason: str
    version: str | None
    rows: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "department": self.department,
            "status": self.status.value,
            "reason": self.reason,
            "version": self.version,
            "rows": self.rows,
        }


class Catalogue:
    def __init__(self, config: Config, access: Access, store: StateStore, audit: AuditLog) -> None:
        self.config, self.access, self.store, self.audit = config, access, store, audit
        self._entries: dict[str, Dataset] = {}
        self._details: dict[str, str] = {}  # operators' detail of why a dataset is unavailable
        self._pending: dict[str, Future[None]] = {}
        self._lock = threading.RLock()
        self._first: tuple[list[Future[None]], float] | None = None  # the first binding of all, and when
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="trust-bind")

    @property
    def bind_wait_s(self) -> float:
        """How long binding waits for a department: listing, footers and versions, each a request
        that may be retried, plus a margin (for the slowest department allowed)."""
        departments = [self.config.department(d) for d in {*self.config.departments, ""}]
        return max(3 * d.timeout_s * (d.retries + 1) for d in departments) + 2.0

    # -- reading ---------------------------------------------------------------------------------
    def registrations(self) -> Catalog:
        """The catalogue as registered in YAML, without contacting the departments."""
        return load_catalog(Path(self.config.catalog_dir))

    def bound(self) -> Catalog:
        """Every registered dataset with its status; the first call binds them all (side by side,
        waiting at most ``bind_wait_s`` for any department)."""
        with self._lock:
            if self._first is None:
                self._first = ([self._bind(ds) for ds in self.registrations()], time.monotonic())
            futures, started = self._first
        if not all(f.done() for f in futures):  # every caller waits for the first binding, up to its limit
            self._settle_by(futures, max(0.0, self.bind_wait_s - (time.monotonic() - started)))
        with self._lock:
            return Catalog(dict(sorted(self._entries.items())))

    def statuses(self) -> list[DatasetStatus]:
        return [
            DatasetStatus(ds.id, ds.department, ds.status, ds.reason, ds.version, ds.row_count if ds.files else None)
            for ds in self.bound()
        ]

    def detail(self, dataset_id: str) -> str:
        """The operators' account of why a dataset is unavailable (names files and settings)."""
        with self._lock:
            return self._details.get(dataset_id, "")

    def for_user(self, user: User, project: str | None = None) -> list[tuple[Dataset, tuple[str, ...]]]:
        """Every dataset, with which of the caller's projects (or just ``project``) may use it."""
        projects = self._projects(user, project)
        return [(ds, _usable(ds.id, projects)) for ds in self.bound()]

    # -- finding data ----------------------------------------------------------------------------
    def search(
        self, text: str, user: User | None = None, *, project: str | None = None, limit: int | None = None
    ) -> list[tuple[Hit, tuple[str, ...]]]:
        """The datasets matching ``text``, best first (``trust.catalog.search``), each with which of
        ``user``'s projects (or just ``project``) may use it; every project that may, for the operator."""
        projects = self._projects(user, project)
        hits = search(self.registrations(), text, Glossary.load(Path(self.config.catalog_dir)), limit=limit)
        return [(hit, _usable(hit.dataset.id, projects)) for hit in hits]

    def page(self, dataset_id: str, user: User | None = None, *, project: str | None = None) -> DatasetPage:
        """One dataset's page: its registration, the datasets it links to on which keys, and which of
        ``user``'s projects (every project, for the operator) may use it."""
        registrations = self.registrations()
        ds = registrations.get(dataset_id)
        return DatasetPage(ds, tuple(links(registrations, ds.id)), _usable(ds.id, self._projects(user, project)))

    def dcat(self, base_url: str) -> dict[str, object]:
        """The catalogue as DCAT JSON-LD (metadata only), IRIs under ``base_url``."""
        return to_dcat(self.registrations(), base_url)

    def _projects(self, user: User | None, project: str | None) -> dict[str, dict[str, Any]]:
        if project is not None:
            self.access.project(project)
            if user is not None:
                self.access.check_can_see_project(user, project)
            return {project: self.access.project(project)}
        if user is None:
            return {pid: {"id": pid, **spec} for pid, spec in self.access.projects().items()}
        return self.access.member_projects(user.name)

    # -- queries ---------------------------------------------------------------------------------
    def require(self, dataset_ids: Iterable[str]) -> list[Dataset]:
        """The datasets a query reads, each available and at its registered version; otherwise
        ``DatasetUnavailable`` or ``DatasetChanged`` naming the dataset, its department and why."""
        catalog = self.bound()
        out = []
        for ds_id in dataset_ids:
            ds = catalog.get(ds_id)
            with self.store.read() as tx:
                change, current = tx.datasets.change(ds.id), tx.datasets.current(ds.id)
            if change is not None and ds.status is not Status.CHANGED:
                ds = self._changed(ds, change)  # found by another process
            elif ds.status is Status.AVAILABLE and current is not None and current.id != ds.version:
                ds = self._rebind_now(ds)  # its data owner accepted a new version elsewhere
            elif ds.status in (Status.UNAVAILABLE, Status.UNBOUND):
                ds = self._rebind_now(ds)  # perhaps back: try once, within the departments' limits
            out.append(self._usable(ds))
        return out

    def _usable(self, ds: Dataset) -> Dataset:
        if ds.status is Status.AVAILABLE:
            return ds
        raise self._refusal(ds)

    @staticmethod
    def _refusal(ds: Dataset) -> DatasetUnavailable:
        if ds.status is Status.CHANGED:
            return DatasetChanged(
                f"{ds.id} ({ds.department}) has changed at its source since version {ds.version} was registered: "
                f"{ds.reason}. It cannot be queried until its data owner accepts the new data "
                f"(`trust catalog refresh {ds.id}`); outputs already made from it stay as they are.",
                dataset=ds.id,
                department=ds.department,
                version=ds.version,
            )
        return DatasetUnavailable(
            f"{ds.id} ({ds.department}) is unavailable: {ds.reason or 'not yet reached'}. The trust retries it in "
            "the background; other departments' datasets are not affected. Try again later.",
            dataset=ds.id,
            department=ds.department,
        )

    def verify_read(self, datasets: Sequence[Dataset], footers: Iterable[FileFooter]) -> None:
        """What a query read (the footers its engine read) against each dataset's registered version."""
        by_url = {f.url: f for f in footers}
        for ds in datasets:
            read = tuple(by_url[f.url] for f in ds.files if f.url in by_url)
            registered, observed = Manifest.of(ds), Manifest.of(dataclasses.replace(ds, files=read))
            # the server's own version is not in the engine's footers: compare what it read
            observed = dataclasses.replace(
                observed,
                files=tuple(dataclasses.replace(f, etag=None, last_modified=None) for f in observed.files),
                columns=_read_columns(ds, read),
            )
            registered = dataclasses.replace(
                registered,
                files=tuple(dataclasses.replace(f, etag=None, last_modified=None) for f in registered.files),
            )
            found = changes(registered, observed)
            if found:
                raise self._refusal(self._record_change(ds, found, observed))

    def verify_digests(self, datasets: Sequence[Dataset], digests: Mapping[str, str]) -> None:
        """The footer hashes a query's engine read against each dataset's registered version; where one
        differs, the footers are read again to say what changed (``DatasetChanged`` either way)."""
        for ds in datasets:
            differ = [f.url for f in ds.files if digests.get(f.url) != f.footer_digest]
            if not differ:
                continue
            self.verify_now([ds])  # raises, naming rows, files, columns or types
            names = ", ".join(u.rsplit("/", 1)[-1] for u in differ[:5])
            observed = Manifest(
                files=tuple(
                    dataclasses.replace(f, footer_sha256=digests.get(f.url, ""), etag=None, last_modified=None)
                    for f in Manifest.of(ds).files
                ),
                columns=Manifest.of(ds).columns,
            )
            raise self._refusal(self._record_change(ds, [f"files rewritten (footer differs): {names}"], observed))

    def verify_now(self, datasets: Sequence[Dataset]) -> None:
        """Read the footers of ``datasets`` afresh and compare them with the registered versions."""
        for ds in datasets:
            try:
                footers = read_footers(
                    tuple(f.url for f in ds.files),
                    access_for([ds], self.config.credentials),
                    engine_limits(self.config, [ds.department]),
                )
            except TrustError:
                continue  # unreadable now: the caller's own error stands
            self.verify_read([ds], footers)

    def listing(self, datasets: Sequence[Dataset]) -> dict[str, tuple[str, ...]]:
        """The files each pattern-located dataset's locations match now (one listing per dataset)."""
        out = {}
        for ds in datasets:
            if ds.globbed:
                try:
                    timeout = self.config.department(ds.department).timeout_s
                    out[ds.id] = list_matching(ds.globbed, self._secrets(ds), timeout)
                except ProbeFailed as exc:
                    log.warning("listing %s failed: %s", ds.id, exc)
                    raise DatasetUnavailable(
                        f"{ds.id} ({ds.department}) could not be listed at its department to check its files: "
                        "its server did not answer. Try again later.",
                        dataset=ds.id,
                        department=ds.department,
                    ) from None
        return out

    def verify_listing(self, datasets: Sequence[Dataset], listed: dict[str, tuple[str, ...]]) -> None:
        for ds in datasets:
            if ds.id not in listed:
                continue
            registered = {f.url for f in ds.files if any(_matches(f.url, g) for g in ds.globbed)}
            now = set(listed[ds.id])
            if now != registered:
                added, removed = sorted(now - registered), sorted(registered - now)
                found = [
                    *([f"files added: {', '.join(u.rsplit('/', 1)[-1] for u in added[:5])}"] if added else []),
                    *([f"files removed: {', '.join(u.rsplit('/', 1)[-1] for u in removed[:5])}"] if removed else []),
                ]
                observed = Manifest(
                    files=tuple(f for f in Manifest.of(ds).files if f.url in now)
                    + tuple(_unknown_file(u) for u in added),
                    columns=Manifest.of(ds).columns,
                )
                raise self._refusal(self._record_change(ds, found, observed))

    def _secrets(self, ds: Dataset) -> tuple[Secret, ...]:
        return access_for([ds], self.config.credentials).secrets

    # -- the data owner --------------------------------------------------------------------------
    def refresh(self, user_name: str, dataset_id: str) -> Version:
        """Accept what ``dataset_id``'s department serves now as its next version (its data owner, or an
        administrator). Unchanged data keeps its version and clears a recorded change."""
        user = self.access.user(user_name)
        registration = self.registrations().get(dataset_id)
        if not (
            {"admin"} & set(user.roles) or (DATA_OWNER in user.roles and user.organisation == registration.department)
        ):
            self.audit.record(EventKind.ACCESS_DENIED, user.name, None, what="dataset_refresh", dataset=registration.id)
            raise NotAuthorised(
                f"Only {registration.department}'s data owners (or an administrator) may accept a new version of "
                f"{registration.id}.",
                dataset=registration.id,
            )
        try:
            observed = bind_dataset(
                registration,
                self.config.locations,
                self.config.credentials,
                engine_limits(self.config, [registration.department]),
            )
        except BindFailed as exc:
            self._settle(registration, exc)
            raise DatasetUnavailable(
                f"{registration.id} could not be read to accept a new version: {exc.reason}. Try again when "
                f"{registration.department}'s server answers.",
                dataset=registration.id,
            ) from None
        wrong = problems(observed)
        if wrong:
            raise TrustError(
                f"{registration.id} cannot be accepted as it is: {'; '.join(wrong)}. Fix the files at "
                f"{registration.department}, or the registration (its catalogue YAML, which may pin types), "
                "and refresh again.",
                dataset=registration.id,
            )
        manifest, now = Manifest.of(observed), _now()
        with self.store.write() as tx:
            current = tx.datasets.current(registration.id)
            found = changes(current.manifest, manifest) if current is not None else ["first registration"]
            if current is not None and not found and manifest.columns == current.manifest.columns:
                version = current
            else:
                version = tx.datasets.add(registration.id, manifest, user.name, now)
            tx.datasets.clear_change(registration.id)
            AuditLog.append(
                tx,
                EventKind.DATASET_REFRESHED,
                user.name,
                None,
                dataset=registration.id,
                department=registration.department,
                previous=current.id if current is not None else None,
                version=version.id,
                changes=found,
                manifest_sha256=version.manifest.sha256(),
            )
        with self._lock:
            self._entries[registration.id] = dataclasses.replace(
                observed, status=Status.AVAILABLE, reason="", version=version.id
            )
            self._details.pop(registration.id, None)
        return version

    def versions(self, dataset_id: str) -> list[Version]:
        with self.store.read() as tx:
            return tx.datasets.history(self.registrations().get(dataset_id).id)

    def superseded(self, version_ids: Iterable[str]) -> set[str]:
        """Of ``version_ids``, those a later version has replaced."""
        with self.store.read() as tx:
            return tx.datasets.superseded(version_ids)

    def stale(self, versions: Mapping[str, str]) -> dict[str, str]:
        """For an output's ``{dataset: version}``, a note on each dataset whose version has been
        superseded, or whose source has changed since: what checkers and release bundles flag."""
        out: dict[str, str] = {}
        with self.store.read() as tx:
            superseded = tx.datasets.superseded(v for v in versions.values() if v)
            for dataset, version in sorted(versions.items()):
                if not version:
                    out[dataset] = "read before versions were recorded"
                elif version in superseded:
                    current = tx.datasets.current(dataset)
                    out[dataset] = f"superseded by {current.id if current else 'a later version'}"
                elif (change := tx.datasets.change(dataset)) is not None and change.version == version:
                    out[dataset] = f"changed at the source since (found {change.found}: {'; '.join(change.changes)})"
        return out

    def changed(self) -> dict[str, Change]:
        with self.store.read() as tx:
            return {c.dataset: c for c in tx.datasets.changes()}

    # -- background ------------------------------------------------------------------------------
    def retry(self) -> list[str]:
        """Bind again every unavailable dataset (not one being bound already); the ids now available."""
        with self._lock:
            waiting = [ds for ds in self._entries.values() if ds.status is Status.UNAVAILABLE]
            futures = [self._bind(self.registrations().get(ds.id)) for ds in waiting]
        self._settle_by(futures, self.bind_wait_s)
        with self._lock:
            return [ds.id for ds in waiting if self._entries[ds.id].status is Status.AVAILABLE]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- binding ---------------------------------------------------------------------------------
    def _bind(self, registration: Dataset) -> Future[None]:
        """Start binding one dataset (or join the binding already under way)."""
        with self._lock:
            pending = self._pending.get(registration.id)
            if pending is not None and not pending.done():
                return pending
            self._entries.setdefault(registration.id, self._fallback(registration, Status.UNBOUND, "not yet reached"))
            future = self._pool.submit(self._bind_and_settle, registration)
            self._pending[registration.id] = future
            return future

    def _bind_and_settle(self, registration: Dataset) -> None:
        try:
            result: Dataset | BindFailed = bind_dataset(
                registration,
                self.config.locations,
                self.config.credentials,
                engine_limits(self.config, [registration.department]),
            )
        except BindFailed as exc:
            result = exc
        except Exception as exc:  # noqa: BLE001 - one dataset's failure must not stop the others
            log.exception("binding %s failed", registration.id)
            result = BindFailed(f"{registration.department}'s data could not be read", f"{type(exc).__name__}: {exc}")
        self._settle(registration, result)

    def _settle_by(self, futures: Sequence[Future[None]], wait_s: float) -> None:
        """Wait up to ``wait_s``; a dataset still binding then is unavailable until its binding ends."""
        if not futures:
            return
        _, late = wait_for(futures, timeout=wait_s)
        if late:
            with self._lock:
                for ds_id, future in self._pending.items():
                    entry = self._entries.get(ds_id)
                    if future in late and entry is not None and entry.status is Status.UNBOUND:
                        reason = f"{entry.department}'s server did not answer within {self.bind_wait_s:g} s"
                        self._entries[ds_id] = dataclasses.replace(entry, status=Status.UNAVAILABLE, reason=reason)
                        self._details[ds_id] = reason
                        log.warning("%s unavailable: %s", ds_id, reason)

    def _rebind_now(self, ds: Dataset) -> Dataset:
        future = self._bind(self.registrations().get(ds.id))
        self._settle_by([future], self.bind_wait_s)
        with self._lock:
            return self._entries[ds.id]

    def _fallback(self, registration: Dataset, status: Status, reason: str) -> Dataset:
        """A dataset that is not bound now, typed from its last version so queries still parse."""
        with self.store.read() as tx:
            current = tx.datasets.current(registration.id)
        typed = registration
        if current is not None:
            types = dict(current.manifest.columns)
            typed = dataclasses.replace(
                registration,
                columns=tuple(dataclasses.replace(c, type=types.get(c.name) or None) for c in registration.columns),
                version=current.id,
            )
        return dataclasses.replace(typed, status=status, reason=reason)

    def _settle(self, registration: Dataset, result: Dataset | BindFailed) -> None:
        """Record a binding's outcome: available, unavailable (with why), or changed."""
        if isinstance(result, BindFailed):
            self._unavailable(registration, result.reason, result.detail)
            return
        wrong = problems(result)
        with self.store.read() as tx:
            current, recorded = tx.datasets.current(registration.id), tx.datasets.change(registration.id)
        if current is None:
            if wrong:
                self._unavailable(
                    registration,
                    f"its files do not match its registration ({'; '.join(wrong)})",
                    f"cannot register {registration.id}: {'; '.join(wrong)}",
                )
                return
            version = self._register(result)
            self._available(registration, dataclasses.replace(result, version=version.id))
            return
        observed = Manifest.of(result)
        found = changes(current.manifest, observed) + [w for w in wrong if "pinned" in w]
        if found:
            self._record_change(self._fallback(registration, Status.AVAILABLE, ""), found, observed)
            return
        if recorded is not None:  # changed earlier; only its data owner's refresh clears that
            with self._lock:
                self._entries[registration.id] = self._changed(
                    self._fallback(registration, Status.AVAILABLE, ""), recorded
                )
            return
        self._available(registration, dataclasses.replace(result, version=current.id))

    def _register(self, observed: Dataset) -> Version:
        manifest = Manifest.of(observed)
        with self.store.write() as tx:
            current = tx.datasets.current(observed.id)
            if current is not None:  # another process registered it meanwhile
                return current
            version = tx.datasets.add(observed.id, manifest, REGISTRATION, _now())
            AuditLog.append(
                tx,
                EventKind.DATASET_REGISTERED,
                REGISTRATION,
                None,
                dataset=observed.id,
                department=observed.department,
                version=version.id,
                files=len(manifest.files),
                rows=manifest.rows,
                manifest_sha256=manifest.sha256(),
            )
        return version

    def _available(self, registration: Dataset, bound: Dataset) -> None:
        with self._lock:
            before = self._entries.get(registration.id)
            self._entries[registration.id] = dataclasses.replace(bound, status=Status.AVAILABLE, reason="")
            self._details.pop(registration.id, None)
        if before is not None and before.status is Status.UNAVAILABLE:
            log.info("%s available again", registration.id)
            self.audit.record(
                EventKind.DATASET_AVAILABLE, "trust", None, dataset=registration.id, department=registration.department
            )

    def _unavailable(self, registration: Dataset, reason: str, detail: str) -> None:
        with self._lock:
            before = self._entries.get(registration.id)
            self._entries[registration.id] = self._fallback(registration, Status.UNAVAILABLE, reason)
            self._details[registration.id] = detail
        log.warning("%s unavailable: %s (%s)", registration.id, reason, detail)
        if before is None or before.status is not Status.UNAVAILABLE:
            self.audit.record(
                EventKind.DATASET_UNAVAILABLE,
                "trust",
                None,
                dataset=registration.id,
                department=registration.department,
                reason=reason,
            )

    def _record_change(self, ds: Dataset, found: list[str], observed: Manifest) -> Dataset:
        """Record that ``ds`` departs from its registered version (once per state found); the entry, changed."""
        change = Change(ds.id, ds.version or "", _now(), tuple(found), observed.content_sha256())
        with self.store.write() as tx:
            if tx.datasets.mark_changed(change):
                AuditLog.append(
                    tx,
                    EventKind.DATASET_CHANGED,
                    "trust",
                    None,
                    dataset=ds.id,
                    department=ds.department,
                    version=ds.version,
                    changes=list(found),
                    observed_sha256=change.observed_sha256,
                )
            change = tx.datasets.change(ds.id) or change
        log.warning("%s changed at %s since %s: %s", ds.id, ds.department, ds.version, "; ".join(found))
        with self._lock:
            entry = self._changed(self._entries.get(ds.id, ds), change)
            return entry

    def _changed(self, ds: Dataset, change: Change) -> Dataset:
        with self._lock:
            entry = dataclasses.replace(
                ds, status=Status.CHANGED, reason="; ".join(change.changes), version=change.version or ds.version
            )
            self._entries[ds.id] = entry
            return entry


def _usable(dataset_id: str, projects: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(p for p, spec in projects.items() if dataset_id in spec.get("datasets", ()))


@dataclass(frozen=True)
class DatasetPage:
    """What a dataset's page shows beyond its registration: where it links, and who may use it."""

    dataset: Dataset
    links: tuple[Link, ...]  # datasets sharing one of its linkage keys, and which
    usable_by: tuple[str, ...]  # the projects (of the user asking) that may use it


def _read_columns(ds: Dataset, read: tuple[FileFooter, ...]) -> tuple[tuple[str, str], ...]:
    types: dict[str, set[str]] = {}
    for f in read:
        for name, typ in f.columns:
            types.setdefault(name, set()).add(typ)
    return tuple((c.name, "|".join(sorted(types.get(c.name, ())))) for c in ds.columns)


def _matches(url: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(url, pattern)


def _unknown_file(url: str) -> FileVersion:
    """A file a pattern now matches that no version has seen: its footer is not read."""
    return FileVersion(url, -1, None, None, 0, "")
