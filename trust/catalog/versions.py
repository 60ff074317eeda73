"""Versions of a dataset: what the department served when its data owner accepted it.

A version is a manifest of the files read in place: for each file its URL, size, the server's
own version of it (HTTP ETag or Last-Modified, S3 ETag) where it gives one, its row count and the
SHA-256 of its footer's row-group metadata; for locations that are patterns, the list of files
they matched; and each column's type. Registration records the first version; a later binding or
a query that finds anything else refuses with ``DatasetChanged`` until the data owner accepts the
new state (``trust catalog refresh DATASET``), which records the next version.

``changes(registered, observed)`` says what differs, in words a data owner can check against
what their department did: rows, files, columns and types.

    >>> a = Manifest(files=(FileVersion("h://d/a.parquet", 10, None, None, 5, "f1"),), columns=(("x", "BIGINT"),))
    >>> b = Manifest(files=(FileVersion("h://d/a.parquet", 12, None, None, 7, "f2"),), columns=(("x", "VARCHAR"),))
    >>> changes(a, b)
    ['rows 5 -> 7 (a.parquet: 5 -> 7)', 'column x: type BIGINT -> VARCHAR']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trust.catalog.model import Dataset, FileFooter


@dataclass(frozen=True)
class FileVersion:
    url: str
    size: int
    etag: str | None
    last_modified: str | None
    rows: int
    footer_sha256: str

    @classmethod
    def of(cls, footer: FileFooter) -> FileVersion:
        return cls(
            footer.url, footer.size_bytes, footer.etag, footer.last_modified, footer.num_rows, footer.footer_digest
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "size": self.size,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "rows": self.rows,
            "footer_sha256": self.footer_sha256,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FileVersion:
        return cls(
            str(raw["url"]),
            int(raw["size"]),
            raw.get("etag"),
            raw.get("last_modified"),
            int(raw["rows"]),
            str(raw["footer_sha256"]),
        )

    def differs(self, other: FileVersion) -> list[str]:
        """What differs between two states of one file (empty when they are the same version)."""
        out = []
        if self.rows != other.rows:
            out.append("rows")
        if self.size != other.size:
            out.append("size")
        if self.footer_sha256 != other.footer_sha256:
            out.append("footer")
        # The server's own version: compared only when both sides have it (a server may stop sending it).
        if self.etag and other.etag and self.etag != other.etag:
            out.append("etag")
        elif (
            not (self.etag and other.etag)
            and self.last_modified
            and other.last_modified
            and self.last_modified != other.last_modified
        ):
            out.append("last-modified")
        return out


@dataclass(frozen=True)
class Manifest:
    files: tuple[FileVersion, ...]
    columns: tuple[tuple[str, str], ...]  # registered columns and their types in the files

    @classmethod
    def of(cls, dataset: Dataset) -> Manifest:
        return cls(
            files=tuple(sorted((FileVersion.of(f) for f in dataset.files), key=lambda f: f.url)),
            columns=tuple((c.name, c.type or "") for c in dataset.columns),
        )

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"files": [f.to_json() for f in self.files], "columns": [list(c) for c in self.columns]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Manifest:
        return cls(
            files=tuple(FileVersion.from_json(f) for f in raw.get("files", ())),
            columns=tuple((str(n), str(t)) for n, t in raw.get("columns", ())),
        )

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def content_sha256(self) -> str:
        """The hash of what the files hold (sizes, rows, footers, column types), without the servers' own
        versions: the same state found by a query (footers only) and by a binding (with ETags) agree."""
        files = [[f.url, f.size, f.rows, f.footer_sha256] for f in self.files]
        return hashlib.sha256(json.dumps([files, [list(c) for c in self.columns]]).encode()).hexdigest()

    def file(self, url: str) -> FileVersion | None:
        for f in self.files:
            if f.url == url:
                return f
        return None


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _names(urls: Iterable[str], limit: int = 5) -> str:
    names = sorted(_name(u) for u in urls)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def changes(registered: Manifest, observed: Manifest) -> list[str]:
    """What differs, each as a short phrase; empty when ``observed`` is the registered version."""
    out: list[str] = []
    before = {f.url: f for f in registered.files}
    after = {f.url: f for f in observed.files}
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    if registered.rows != observed.rows:
        per_file = [
            f"{_name(u)}: {before[u].rows:,} -> {after[u].rows:,}"
            for u in sorted(set(before) & set(after))
            if before[u].rows != after[u].rows
        ]
        out.append(
            f"rows {registered.rows:,} -> {observed.rows:,}" + (f" ({'; '.join(per_file[:5])})" if per_file else "")
        )
    if added:
        out.append(f"files added: {_names(added)}")
    if removed:
        out.append(f"files removed: {_names(removed)}")
    rewritten = [
        u for u in sorted(set(before) & set(after)) if before[u].differs(after[u]) and before[u].rows == after[u].rows
    ]
    if rewritten:
        what = sorted({w for u in rewritten for w in before[u].differs(after[u])})
        out.append(f"files rewritten ({', '.join(what)} differ): {_names(rewritten)}")
    types_before, types_after = dict(registered.columns), dict(observed.columns)
    for name in [n for n, _ in registered.columns]:
        if name not in types_after or not types_after[name]:
            out.append(f"column {name}: no longer in the files")
        elif types_before[name] and types_after[name] != types_before[name]:
            out.append(f"column {name}: type {types_before[name]} -> {types_after[name]}")
    return out


@dataclass(frozen=True)
class Version:
    """One accepted state of a dataset at its department."""

    id: str  # "dwp.uc_claims@2"
    dataset: str
    number: int
    created: str
    accepted_by: str  # who accepted it: "registration" for the first, else its data owner
    manifest: Manifest
    superseded: str | None = None  # when a later version replaced it

    @staticmethod
    def id_for(dataset: str, number: int) -> str:
        return f"{dataset}@{number}"


@dataclass(frozen=True)
class Change:
    """A dataset whose department serves something other than its registered version."""

    dataset: str
    version: str  # the registered version it departs from
    found: str
    changes: tuple[str, ...]
    observed_sha256: str
