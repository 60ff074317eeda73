"""The catalogue as the client sees it: datasets, columns, roles, and which projects may use each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trust.errors import UnknownName, did_you_mean
from trust.outputs.render import STYLE as _STYLE
from trust.outputs.render import escape as _e
from trust.outputs.render import format_value, render_text
from trust.outputs.render import html_table as _table


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    role: str
    type: str | None = None
    description: str = ""
    unit: str | None = None
    flags: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ColumnInfo:
        return cls(
            str(raw["name"]),
            str(raw["role"]),
            raw.get("type"),
            str(raw.get("description") or ""),
            raw.get("unit"),
            tuple(raw.get("flags") or ()),
        )


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    department: str
    title: str
    description: str
    unit_key: str
    columns: tuple[ColumnInfo, ...]
    usable_by: tuple[str, ...]  # which of the caller's projects may use it
    rows: int | None = None
    flags: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DatasetInfo:
        return cls(
            id=str(raw["id"]),
            department=str(raw["department"]),
            title=str(raw["title"]),
            description=str(raw.get("description") or ""),
            unit_key=str(raw.get("unit_key") or ""),
            columns=tuple(ColumnInfo.from_json(c) for c in raw.get("columns", ())),
            usable_by=tuple(raw.get("usable_by") or ()),
            rows=raw.get("rows"),
            flags=tuple(raw.get("flags") or ()),
        )

    def column(self, name: str) -> ColumnInfo:
        for c in self.columns:
            if c.name == name:
                return c
        raise UnknownName(
            f"Dataset {self.id} has no column {name!r}.{did_you_mean(name, [c.name for c in self.columns])}",
            dataset=self.id,
            column=name,
        )

    def __str__(self) -> str:
        head = f"{self.id}: {self.title} ({self.department}); unit {self.unit_key}"
        rows = [(c.name, c.type or "", c.role, c.description) for c in self.columns]
        return head + "\n" + render_text(["column", "type", "role", "description"], rows, limit=1000)

    def _repr_html_(self) -> str:
        return dataset_html(self)


@dataclass(frozen=True)
class Catalogue:
    datasets: tuple[DatasetInfo, ...]
    project: str | None = None

    def __iter__(self) -> Iterator[DatasetInfo]:
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)

    def get(self, dataset_id: str) -> DatasetInfo:
        for ds in self.datasets:
            if ds.id == dataset_id.lower():
                return ds
        raise UnknownName(
            f"No dataset {dataset_id!r} in the catalogue.{did_you_mean(dataset_id, [d.id for d in self])}",
            dataset=dataset_id,
        )

    def __getitem__(self, dataset_id: str) -> DatasetInfo:
        return self.get(dataset_id)

    def __str__(self) -> str:
        rows = [
            (d.id, d.department, d.title, d.rows if d.rows is not None else "", ", ".join(d.usable_by) or "-")
            for d in self
        ]
        return render_text(["dataset", "department", "title", "rows", "usable by"], rows, limit=1000)

    def _repr_html_(self) -> str:
        return catalog_html(self)


def catalog_html(catalogue: Catalogue) -> str:
    rows = [
        [
            f"<td><code>{_e(d.id)}</code></td>",
            f"<td>{_e(d.department)}</td>",
            f"<td>{_e(d.title)}</td>",
            f'<td class="trust-num">{_e(format_value(d.rows))}</td>',
            f"<td>{len(d.columns)}</td>",
            f"<td>{_e(', '.join(d.usable_by) or '—')}</td>",
        ]
        for d in catalogue
    ]
    scope = f" for project {_e(catalogue.project)}" if catalogue.project else ""
    return (
        f'{_STYLE}<div class="trust-catalog"><p><strong>Catalogue{scope}</strong>: {len(catalogue)} datasets</p>'
        + _table(["dataset", "department", "title", "rows", "columns", "usable by your projects"], rows)
        + '<p class="trust-meta">%trust_catalog DATASET shows its columns and roles.</p></div>'
    )


def dataset_html(ds: DatasetInfo) -> str:
    rows = [
        [
            f"<td><code>{_e(c.name)}</code></td>",
            f"<td>{_e(c.type or '')}</td>",
            f'<td class="trust-role-{_e(c.role)}">{_e(c.role)}</td>',
            f"<td>{_e(c.description)}</td>",
            f"<td>{_e(', '.join(c.flags))}</td>",
        ]
        for c in ds.columns
    ]
    rows_line = f" · {ds.rows:,} rows" if ds.rows is not None else ""
    return (
        f'{_STYLE}<div class="trust-catalog"><p><strong>{_e(ds.id)}</strong>: {_e(ds.title)} ({_e(ds.department)})'
        f'{rows_line} · unit <code>{_e(ds.unit_key)}</code></p><p class="trust-meta">{_e(ds.description)}</p>'
        + _table(["column", "type", "role", "description", "flags"], rows)
        + f'<p class="trust-meta">usable by your projects: {_e(", ".join(ds.usable_by) or "none")}. '
        "Roles: dimension (group, filter), measure (aggregate), linkage_key (joins and count(DISTINCT …)), "
        "direct_identifier (never).</p></div>"
    )
