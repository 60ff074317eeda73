"""Attack sequences as data (``tests/attacks/sequences/*.yaml``), checked for shape on load.

A sequence is what one determined analyst (or a few, or one analyst in a few projects) asks, in
order, plus the small groups they are really after (probes). Writing them as data keeps the attack
corpus growing without new Python, as with the SQL corpus in ``tests/sql/corpus``.

    >>> seqs = load_sequences()
    >>> len(seqs) >= 60 and all(s.queries for s in seqs)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEQUENCES = Path(__file__).parent / "sequences"
CATEGORIES = (
    "margins",
    "hierarchies",
    "rollup",
    "tightened_filters",
    "paddings",
    "dominated_sums",
    "zero_cells",
    "conditional",
    "two_projects",
    "two_users",
    "respelling",
)
SEQUENCE_KEYS = {"name", "category", "description", "actors", "queries", "probes"}


@dataclass(frozen=True)
class Actor:
    """One analyst on one project. ``project`` is a catalogue project id, optionally with a ``#label``
    suffix: ``demo-employment-support#2`` is a second project with the same agreement, for attacks that
    need two projects where the demo has only one with the datasets."""

    name: str
    user: str
    project: str

    @property
    def base_project(self) -> str:
        return self.project.split("#", 1)[0]


@dataclass(frozen=True)
class Query:
    actor: str
    sql: str


@dataclass(frozen=True)
class Probe:
    """A small group the attacker wants, defined by SQL over the raw data (``SELECT count(*) FROM ...
    WHERE ...``), read with the row filters the policy gives ``actor``."""

    name: str
    actor: str
    sql: str


@dataclass(frozen=True)
class Sequence:
    name: str
    category: str
    description: str
    actors: tuple[Actor, ...]
    queries: tuple[Query, ...]
    probes: tuple[Probe, ...] = ()
    file: str = ""

    def actor(self, name: str) -> Actor:
        return next(a for a in self.actors if a.name == name)

    @classmethod
    def from_yaml(cls, raw: dict[str, Any], file: str = "") -> Sequence:
        where = f"{file}: {raw.get('name', '(no name)')}"
        unknown = set(raw) - SEQUENCE_KEYS
        if unknown or not {"name", "category", "description", "actors", "queries"} <= set(raw):
            raise ValueError(f"{where}: keys must be {sorted(SEQUENCE_KEYS)} (probes optional); got {sorted(raw)}")
        if raw["category"] not in CATEGORIES:
            raise ValueError(f"{where}: category {raw['category']!r} is not one of {CATEGORIES}")
        actors = tuple(Actor(name, spec["user"], spec["project"]) for name, spec in raw["actors"].items())
        names = {a.name for a in actors}
        if len({(a.user, a.project) for a in actors}) != len(actors):
            raise ValueError(f"{where}: two actors are the same user on the same project")
        first = actors[0].name
        queries = tuple(Query(q.get("actor", first), q["sql"].strip()) for q in raw["queries"])
        probes = tuple(Probe(p["name"], p.get("actor", first), p["sql"].strip()) for p in raw.get("probes") or ())
        if any(q.actor not in names for q in queries) or any(p.actor not in names for p in probes):
            raise ValueError(f"{where}: a query or probe names an actor not in {sorted(names)}")
        return cls(raw["name"], raw["category"], " ".join(raw["description"].split()), actors, queries, probes, file)


def load_sequences(folder: Path = SEQUENCES) -> list[Sequence]:
    """Every sequence, in file then written order; names are unique."""
    out: list[Sequence] = []
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, list):
            raise ValueError(f"{path.name}: the file must be a YAML list of sequences")
        out += [Sequence.from_yaml(item, path.name) for item in raw]
    names = [s.name for s in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"sequence names must be unique: {duplicated}")
    return out
