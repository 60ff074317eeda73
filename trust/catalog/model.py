"""What the catalogue knows: datasets registered where they live, and their columns."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from trust.errors import ConfigurationError, UnknownName, did_you_mean

DATASET_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Role(enum.StrEnum):
    """How a column may be used. Deny by default: a column with no role cannot be registered."""

    DIRECT_IDENTIFIER = "direct_identifier"  # never usable anywhere
    LINKAGE_KEY = "linkage_key"  # join conditions and count(distinct ...) only
    DIMENSION = "dimension"  # group, filter, output
    MEASURE = "measure"  # aggregated (and compared in filters) only


@dataclass(frozen=True)
class Column:
    name: str
    role: Role
    description: str = ""
    unit: str | None = None
    flags: tuple[str, ...] = ()
    type: str | None = None  # from the Parquet footer, filled in by discovery
    pinned_type: str | None = None  # the registration's own ``type:``: a file that disagrees is a change at the source

    @classmethod
    def from_yaml(cls, name: str, raw: Mapping[str, Any], where: str) -> Column:
        if not COLUMN_NAME.match(name):
            raise ConfigurationError(f"{where}: column name {name!r} must be lower_snake_case.")
        if not isinstance(raw, Mapping) or "role" not in raw:
            raise ConfigurationError(f"{where}: column {name!r} needs a role ({', '.join(r.value for r in Role)}).")
        unknown = set(raw) - {"role", "description", "unit", "flags", "type"}
        if unknown:
            raise ConfigurationError(
                f"{where}: column {name!r} has unknown field(s) {sorted(map(str, unknown))}; allowed: role, "
                "description, unit, flags, type. (Quote a description that contains a comma.)"
            )
        pinned = raw.get("type")
        if pinned is not None and (not isinstance(pinned, str) or not re.fullmatch(r"[A-Z][A-Z0-9_(), ]*", pinned)):
            raise ConfigurationError(
                f"{where}: column {name!r} pins type {pinned!r}; write a DuckDB type name in capitals, "
                "e.g. VARCHAR, BIGINT, DOUBLE, DATE, DECIMAL(18,2)."
            )
        try:
            role = Role(raw["role"])
        except ValueError:
            raise ConfigurationError(
                f"{where}: column {name!r} has unknown role {raw['role']!r}; use one of "
                f"{', '.join(r.value for r in Role)}."
            ) from None
        return cls(
            name=name,
            role=role,
            description=str(raw.get("description", "")),
            unit=raw.get("unit"),
            flags=tuple(raw.get("flags", ())),
            pinned_type=pinned,
        )


@dataclass(frozen=True)
class FileFooter:
    """One Parquet file as its footer describes it; the fingerprint detects drift at the source."""

    url: str
    size_bytes: int
    num_rows: int
    num_row_groups: int
    footer_size: int
    columns: tuple[tuple[str, str], ...]
    footer_digest: str
    etag: str | None = None  # the server's version of the object (HTTP ETag, S3 ETag), where it gives one
    last_modified: str | None = None


class Status(enum.StrEnum):
    """Whether a dataset can be queried now."""

    AVAILABLE = "available"  # bound, and what the department serves is the registered version
    UNAVAILABLE = "unavailable"  # its department could not be reached or read; retried in the background
    CHANGED = "changed"  # the department serves something else than the registered version
    UNBOUND = "unbound"  # not yet contacted (registrations only)


@dataclass(frozen=True)
class Dataset:
    id: str
    department: str
    title: str
    location: tuple[str, ...]
    unit_key: str
    columns: tuple[Column, ...]
    credentials: str | None = None
    description: str = ""
    flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # words people search for it by (``trust catalog search``, DCAT keywords)
    files: tuple[FileFooter, ...] = ()  # filled in by discovery
    globbed: tuple[str, ...] = ()  # the locations that are patterns, whose file list is part of the version
    status: Status = Status.UNBOUND
    reason: str = ""  # why it is unavailable or what changed, for the catalogue and the error
    version: str | None = None  # the registered version served, e.g. "dwp.uc_claims@2"

    @property
    def schema_name(self) -> str:
        return self.id.split(".")[0]

    @property
    def table_name(self) -> str:
        return self.id.split(".")[1]

    @property
    def row_count(self) -> int:
        return sum(f.num_rows for f in self.files)

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @property
    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.url):
            h.update(f"{f.url}|{f.size_bytes}|{f.num_rows}|{f.footer_digest}\n".encode())
        return h.hexdigest()

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name.lower():
                return c
        raise UnknownName(
            f"Dataset {self.id} has no column {name!r}.{did_you_mean(name, [c.name for c in self.columns])}",
            dataset=self.id,
            column=name,
        )

    @property
    def unit_column(self) -> Column:
        return self.column(self.unit_key)

    @classmethod
    def from_yaml(cls, raw: Mapping[str, Any], department: str, where: str) -> Dataset:
        for key in ("id", "title", "location", "unit_key", "columns"):
            if key not in raw:
                raise ConfigurationError(f"{where}: dataset {raw.get('id', '?')!r} is missing {key!r}.")
        ds_id = str(raw["id"])
        if not DATASET_ID.match(ds_id):
            raise ConfigurationError(f"{where}: dataset id {ds_id!r} must look like 'department.name'.")
        where = f"{where} [{ds_id}]"
        location = raw["location"]
        locations = (location,) if isinstance(location, str) else tuple(str(x) for x in location)
        columns = tuple(Column.from_yaml(n, c, where) for n, c in dict(raw["columns"]).items())
        tags = raw.get("tags", ())
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise ConfigurationError(f"{where}: tags must be a list of words or phrases, e.g. [earnings, pay].")
        ds = cls(
            id=ds_id,
            department=department,
            title=str(raw["title"]),
            location=locations,
            unit_key=str(raw["unit_key"]),
            columns=columns,
            credentials=raw.get("credentials"),
            description=str(raw.get("description", "")),
            flags=tuple(raw.get("flags", ())),
            tags=tuple(t.strip() for t in tags),
        )
        if ds.unit_key not in {c.name for c in columns}:
            raise ConfigurationError(f"{where}: unit_key {ds.unit_key!r} is not one of its columns.")
        return ds


@dataclass(frozen=True)
class Catalog:
    datasets: Mapping[str, Dataset] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self.datasets.values())

    def __len__(self) -> int:
        return len(self.datasets)

    def get(self, dataset_id: str) -> Dataset:
        ds = self.datasets.get(dataset_id.lower())
        if ds is None:
            raise UnknownName(
                f"No dataset {dataset_id!r} in the catalogue.{did_you_mean(dataset_id, self.datasets)} "
                "Run `trust catalog list` to see what is registered.",
                dataset=dataset_id,
            )
        return ds

    def schema_mapping(self) -> dict[str, dict[str, dict[str, str]]]:
        """The catalogue as sqlglot wants a schema: {db: {table: {column: type}}}."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for ds in self:
            types = {name: typ for f in ds.files[:1] for name, typ in f.columns}
            out.setdefault(ds.schema_name, {})[ds.table_name] = {
                c.name: (c.type if c.type and "|" not in c.type else types.get(c.name) or "VARCHAR") for c in ds.columns
            }
        return out
