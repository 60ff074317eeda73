"""Which datasets link to which: registrations that share a linkage key column.

Two datasets link on a column when both register it with the role ``linkage_key`` (the departments'
shared pseudonymised identifiers: ``person_id``, ``employer_id``). Joins on those keys are what a
query may do with them; this says where such a join can go.

    >>> from trust.catalog import load_catalog
    >>> from trust.config import REPO_ROOT
    >>> [(l.key, l.dataset) for l in links(load_catalog(REPO_ROOT / "catalog"), "desnz.businesses")]
    [('employer_id', 'hmrc.paye_employments')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trust.catalog.model import Catalog, Role


@dataclass(frozen=True)
class Link:
    """``dataset`` (of ``department``) shares the linkage key ``key``."""

    key: str
    dataset: str
    title: str
    department: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "dataset": self.dataset, "title": self.title, "department": self.department}


def links(catalog: Catalog, dataset_id: str) -> list[Link]:
    """Every other dataset sharing one of ``dataset_id``'s linkage keys, by key then dataset."""
    ds = catalog.get(dataset_id)
    keys = [c.name for c in ds.columns if c.role is Role.LINKAGE_KEY]
    return [
        Link(key, other.id, other.title, other.department)
        for key in keys
        for other in sorted(catalog, key=lambda d: d.id)
        if other.id != ds.id and any(c.name == key and c.role is Role.LINKAGE_KEY for c in other.columns)
    ]
