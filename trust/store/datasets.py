"""Dataset versions as stored: ``dataset_versions`` (every accepted state of each dataset at its
department) and ``dataset_changes`` (datasets found changed at the source, until their data owner
accepts the new state). What a version holds and how two compare is ``trust.catalog.versions``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any, Protocol

from trust.catalog.versions import Change, Manifest, Version
from trust.errors import UnknownName


class DatasetStore(Protocol):
    def current(self, dataset: str) -> Version | None: ...

    def get(self, version_id: str) -> Version: ...

    def history(self, dataset: str) -> list[Version]: ...

    def add(self, dataset: str, manifest: Manifest, accepted_by: str, now: str) -> Version: ...

    def change(self, dataset: str) -> Change | None: ...

    def changes(self) -> list[Change]: ...

    def mark_changed(self, change: Change) -> bool: ...

    def clear_change(self, dataset: str) -> None: ...

    def superseded(self, version_ids: Iterable[str]) -> set[str]: ...

    def all(self) -> list[tuple[str, str]]: ...


_COLUMNS = "id, dataset, number, created, accepted_by, manifest, superseded"


def _version(row: tuple[Any, ...]) -> Version:
    return Version(row[0], row[1], int(row[2]), row[3], row[4], Manifest.from_json(json.loads(row[5])), row[6])


def _change(row: tuple[Any, ...]) -> Change:
    return Change(row[0], row[1], row[2], tuple(json.loads(row[3])), row[4])


class SqliteDatasets:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def current(self, dataset: str) -> Version | None:
        row = self.con.execute(
            f"SELECT {_COLUMNS} FROM dataset_versions WHERE dataset = ? ORDER BY number DESC LIMIT 1", (dataset,)
        ).fetchone()
        return None if row is None else _version(row)

    def get(self, version_id: str) -> Version:
        row = self.con.execute(f"SELECT {_COLUMNS} FROM dataset_versions WHERE id = ?", (version_id,)).fetchone()
        if row is None:
            raise UnknownName(f"No dataset version {version_id!r} is recorded.", version=version_id)
        return _version(row)

    def history(self, dataset: str) -> list[Version]:
        rows = self.con.execute(
            f"SELECT {_COLUMNS} FROM dataset_versions WHERE dataset = ? ORDER BY number", (dataset,)
        ).fetchall()
        return [_version(r) for r in rows]

    def add(self, dataset: str, manifest: Manifest, accepted_by: str, now: str) -> Version:
        """The next version of ``dataset``; the one before is superseded now."""
        row = self.con.execute("SELECT max(number) FROM dataset_versions WHERE dataset = ?", (dataset,)).fetchone()
        number = int(row[0] or 0) + 1
        version = Version(Version.id_for(dataset, number), dataset, number, now, accepted_by, manifest)
        self.con.execute(
            "UPDATE dataset_versions SET superseded = ? WHERE dataset = ? AND superseded IS NULL", (now, dataset)
        )
        self.con.execute(
            "INSERT INTO dataset_versions (id, dataset, number, created, accepted_by, manifest, manifest_sha256) "
            "VALUES (?,?,?,?,?,?,?)",
            (version.id, dataset, number, now, accepted_by, json.dumps(manifest.to_json()), manifest.sha256()),
        )
        return version

    def change(self, dataset: str) -> Change | None:
        row = self.con.execute(
            "SELECT dataset, version, found, changes, observed_sha256 FROM dataset_changes WHERE dataset = ?",
            (dataset,),
        ).fetchone()
        return None if row is None else _change(row)

    def changes(self) -> list[Change]:
        rows = self.con.execute(
            "SELECT dataset, version, found, changes, observed_sha256 FROM dataset_changes ORDER BY dataset"
        ).fetchall()
        return [_change(r) for r in rows]

    def mark_changed(self, change: Change) -> bool:
        """Record that ``change.dataset`` departs from its version; False if that state was already recorded."""
        existing = self.change(change.dataset)
        if existing is not None and existing.observed_sha256 == change.observed_sha256:
            return False
        self.con.execute(
            "INSERT OR REPLACE INTO dataset_changes (dataset, version, found, changes, observed_sha256) "
            "VALUES (?,?,?,?,?)",
            (change.dataset, change.version, change.found, json.dumps(list(change.changes)), change.observed_sha256),
        )
        return True

    def clear_change(self, dataset: str) -> None:
        self.con.execute("DELETE FROM dataset_changes WHERE dataset = ?", (dataset,))

    def all(self) -> list[tuple[str, str]]:
        """Every version's id and the SHA-256 of its stored manifest, oldest first (for the integrity check)."""
        rows = self.con.execute("SELECT id, manifest FROM dataset_versions ORDER BY created, dataset, number")
        return [(r[0], Manifest.from_json(json.loads(r[1])).sha256()) for r in rows]

    def superseded(self, version_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(version_ids))
        if not ids:
            return set()
        rows = self.con.execute(
            f"SELECT id FROM dataset_versions WHERE superseded IS NOT NULL AND id IN ({','.join('?' * len(ids))})", ids
        )
        return {r[0] for r in rows}
