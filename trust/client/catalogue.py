"""The catalogue as the client sees it: datasets, columns, roles, which projects may use each,
what each links to on which keys, and ranked search (``client.catalog.search("earnings")``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
class LinkInfo:
    """Another dataset that shares the linkage key ``key``: a query may join the two on it."""

    key: str
    dataset: str
    title: str = ""
    department: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LinkInfo:
        return cls(str(raw["key"]), str(raw["dataset"]), str(raw.get("title") or ""), str(raw.get("department") or ""))


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
    links: tuple[LinkInfo, ...] = ()  # on a dataset's own page (``client.dataset(...)``)

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
            links=tuple(LinkInfo.from_json(link) for link in raw.get("links") or ()),
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
        table = render_text(["column", "type", "role", "description"], rows, limit=1000)
        return "\n".join([head, table, *_page_lines(self)])

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
        + '<p class="trust-meta">%trust_catalog DATASET shows its columns, roles and links; '
        + "%trust_search TEXT finds datasets by what they hold.</p></div>"
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
        + "".join(f'<p class="trust-meta">{_e(line)}</p>' for line in _page_lines(ds)[:-1])
        + f'<p class="trust-meta">usable by your projects: {_e(", ".join(ds.usable_by) or "none")}. '
        "Roles: dimension (group, filter), measure (aggregate), linkage_key (joins and count(DISTINCT …)), "
        "direct_identifier (never).</p></div>"
    )


def _page_lines(ds: DatasetInfo) -> list[str]:
    """What a dataset links to on which keys, then which of your projects may use it."""
    by_key: dict[str, list[str]] = {}
    for link in ds.links:
        by_key.setdefault(link.key, []).append(
            f"{link.dataset} ({link.department})" if link.department else link.dataset
        )
    lines = [f"links on {key} to: {', '.join(others)}" for key, others in by_key.items()]
    return [*lines, f"usable by your projects: {', '.join(ds.usable_by) or 'none'}"]


@dataclass(frozen=True)
class SearchHit:
    """One dataset a search found: its rank order is the list's; ``why`` says what it matched."""

    id: str
    title: str
    department: str
    score: float  # bm25 (higher is better); hits matching more of the query's words come first
    matched: int  # how many of the query's words it matches
    words: int
    why: tuple[str, ...]
    usable_by: tuple[str, ...]  # which of your projects may use it
    description: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SearchHit:
        return cls(
            id=str(raw["id"]),
            title=str(raw["title"]),
            department=str(raw["department"]),
            score=float(raw["score"]),
            matched=int(raw["matched"]),
            words=int(raw["words"]),
            why=tuple(str(w) for w in raw.get("why") or ()),
            usable_by=tuple(raw.get("usable_by") or ()),
            description=str(raw.get("description") or ""),
        )


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: tuple[SearchHit, ...]

    def __iter__(self) -> Iterator[SearchHit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, i: int) -> SearchHit:
        return self.hits[i]

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def __str__(self) -> str:
        if not self.hits:
            return f"No dataset matches {self.query!r}."
        rows = [
            (i, h.id, h.title, h.department, f"{h.score:.3f}", "; ".join(h.why), ", ".join(h.usable_by) or "-")
            for i, h in enumerate(self.hits, 1)
        ]
        return render_text(["#", "dataset", "title", "department", "score", "why", "usable by"], rows, limit=1000)

    def _repr_html_(self) -> str:
        return search_html(self)


def search_html(results: SearchResults) -> str:
    rows = [
        [
            f"<td>{i}</td>",
            f"<td><code>{_e(h.id)}</code></td>",
            f"<td>{_e(h.title)}</td>",
            f"<td>{_e(h.department)}</td>",
            f'<td class="trust-num">{h.score:.3f}</td>',
            f"<td>{'<br>'.join(_e(w) for w in h.why)}</td>",
            f"<td>{_e(', '.join(h.usable_by) or '—')}</td>",
        ]
        for i, h in enumerate(results, 1)
    ]
    if not rows:
        return f'{_STYLE}<div class="trust-catalog"><p>No dataset matches <q>{_e(results.query)}</q>.</p></div>'
    return (
        f'{_STYLE}<div class="trust-catalog"><p><strong>Search</strong> <q>{_e(results.query)}</q>: '
        f"{len(results)} datasets, best first</p>"
        + _table(["#", "dataset", "title", "department", "score", "why it matched", "usable by your projects"], rows)
        + '<p class="trust-meta">%trust_catalog DATASET shows its columns, links and projects.</p></div>'
    )


class CatalogueCalls:
    """``client.catalog(...)``: the catalogue; ``client.catalog.search(text)``: datasets ranked by relevance,
    searched on the server (titles, descriptions, tags, columns, synonyms, typos)."""

    def __init__(self, get: Callable[[str, Mapping[str, Any]], Any]) -> None:
        self._get = get  # (path, query parameters) -> the server's JSON answer

    def __call__(self, project: str | None = None, search: str | None = None) -> Catalogue:
        """Every dataset, its columns and roles, and which of your projects may use it."""
        params = {k: v for k, v in {"project": project, "search": search}.items() if v}
        body = self._get("/v1/catalog", params)
        return Catalogue(tuple(DatasetInfo.from_json(d) for d in body["datasets"]), project=body.get("project"))

    def search(self, text: str, project: str | None = None, limit: int = 20) -> SearchResults:
        """Datasets matching ``text``, best first, each with why it matched and which of your projects
        (or just ``project``) may use it: ``client.catalog.search("earnings by region")``."""
        params: dict[str, Any] = {"q": text, "limit": limit, **({"project": project} if project else {})}
        body = self._get("/v1/search", params)
        return SearchResults(str(body.get("query", text)), tuple(SearchHit.from_json(h) for h in body["results"]))
