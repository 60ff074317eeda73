"""Finding data: ranked search over the catalogue's metadata, never its data.

    >>> from trust.catalog import load_catalog
    >>> from trust.config import REPO_ROOT
    >>> catalog = load_catalog(REPO_ROOT / "catalog")
    >>> hits = search(catalog, "salary", Glossary.load(REPO_ROOT / "catalog"))
    >>> hits[0].dataset.id
    'hmrc.paye_employments'

How a query is read:

1. Its words (letters and digits, lower case), without stop words ("by", "of", "data" ...).
2. A word neither the catalogue nor the glossary knows is read as the closest word they do, if one
   is close (``difflib``'s ratio ≥ 0.75): "earnigs" as "earnings".
3. A word in a glossary group (``catalog/glossary.yml``) also finds every other word of the group:
   "salary" finds "pay", "wages", "earnings".
4. Each registration is one document of an in-memory SQLite FTS5 index (porter stemming):
   identifier, title, tags, department, description, column names and column descriptions. A
   dataset that matches more of the query's words ranks first; among equals, bm25 over every word's
   alternatives decides (title and tags weigh most, column descriptions least).

Each hit says why it matched: which word, through which synonym or correction, in which fields
and columns. Only registrations are indexed, so nothing a search returns is about anyone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trust.catalog.model import Catalog, Dataset
from trust.errors import ConfigurationError, TrustError
from trust.store.text_index import TextIndex

__all__ = ["GLOSSARY_FILE", "Glossary", "Hit", "Reason", "Term", "search"]

GLOSSARY_FILE = "glossary.yml"  # beside the registrations; not *.yaml, which are departments' files
MAX_QUERY_CHARS = 200
MAX_WORDS = 12
TYPO_CUTOFF = 0.75  # difflib ratio: "earnigs" ~ "earnings" is 0.93, "salery" ~ "salary" 0.83
MIN_TYPO_LENGTH = 4  # shorter words are too easily something else
WORD = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(
    "a about across all an and any are as at be by data dataset datasets each find for from has have how in into "
    "is it me of on or over per show table tables than that the their them there these this to what where which "
    "who whose with within".split()
)
# Where a word matched, in the order hits explain it, with bm25 weights (columns are listed by name).
FIELDS: Mapping[str, float] = {
    "title": 8.0,
    "tags": 6.0,
    "identifier": 6.0,
    "department": 3.0,
    "description": 3.0,
    "column_names": 2.0,
    "column_descriptions": 1.0,
}
EXPLAINED = ("title", "tags", "identifier", "department", "description")
MAX_COLUMNS_SHOWN = 4


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: only letters and digits reach the expression, always quoted."""
    return '"' + " ".join(words(text)) + '"'


@dataclass(frozen=True)
class Glossary:
    """Groups of words that stand for each other in a search (``catalog/glossary.yml``)."""

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, catalog_dir: Path) -> Glossary:
        """The glossary kept with the registrations in ``catalog_dir``; none if there is no file."""
        path = catalog_dir / GLOSSARY_FILE
        if not path.is_file():
            return cls()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark else ""
            raise ConfigurationError(f"{path.name}{line}: not valid YAML. Fix the file and retry.") from None
        return cls.from_yaml(raw, path.name)

    @classmethod
    def from_yaml(cls, raw: Any, where: str) -> Glossary:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("groups"), Mapping):
            raise ConfigurationError(f"{where}: needs 'groups:', each a name and a list of words.")
        groups: dict[str, tuple[str, ...]] = {}
        for name, members in raw["groups"].items():
            if not isinstance(members, list) or not all(isinstance(m, str) and words(m) for m in members):
                raise ConfigurationError(
                    f"{where}: group {name!r} must be a list of words or phrases, e.g. [earnings, salary, pay]."
                )
            groups[str(name)] = tuple(" ".join(words(m)) for m in members)
        return cls(groups)

    def groups_of(self, word: str) -> tuple[str, ...]:
        """The names of the groups ``word`` belongs to (a plural finds its singular's group)."""
        forms = {word, word[:-1]} if word.endswith("s") and len(word) > 3 else {word}
        return tuple(name for name, members in self.groups.items() if forms & set(members))

    def alternatives(self, word: str) -> tuple[str, ...]:
        """``word``, then every other word of its groups."""
        out = [word]
        for name in self.groups_of(word):
            out += [m for m in self.groups[name] if m not in out]
        return tuple(out)

    def vocabulary(self) -> set[str]:
        return {w for members in self.groups.values() for m in members for w in words(m)}


@dataclass(frozen=True)
class Term:
    """One word of a query, as the search reads it."""

    word: str  # as typed
    read_as: str  # itself, or the closest word the catalogue or glossary knows
    alternatives: tuple[str, ...]  # read_as and its glossary groups' words
    groups: tuple[str, ...] = ()

    @property
    def expression(self) -> str:
        return " OR ".join(_phrase(a) for a in self.alternatives)


@dataclass(frozen=True)
class Reason:
    """Why a dataset matched one word: through which catalogue word, in which fields."""

    word: str
    read_as: str
    matched: str
    where: tuple[str, ...]

    def __str__(self) -> str:
        head = self.word if self.read_as == self.word else f"{self.word} ≈ {self.read_as}"
        if self.matched != self.read_as:
            head += f" → {self.matched}"
        return f"{head}: {', '.join(self.where)}"


@dataclass(frozen=True)
class Hit:
    dataset: Dataset
    score: float  # bm25 over every word's alternatives; higher is better
    matched: int  # how many of the query's words it matches
    words: int  # how many words the query has (stop words aside)
    reasons: tuple[Reason, ...]

    @property
    def why(self) -> str:
        return "; ".join(map(str, self.reasons))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.dataset.id,
            "title": self.dataset.title,
            "department": self.dataset.department,
            "description": self.dataset.description,
            "score": round(self.score, 4),
            "matched": self.matched,
            "words": self.words,
            "why": [str(r) for r in self.reasons],
        }


class _Indexes:
    """The catalogue's registrations in two FTS5 indexes: one document per dataset, one per column."""

    def __init__(self, catalog: Catalog) -> None:
        self.datasets = TextIndex(tuple(FIELDS), weights=FIELDS)
        self.columns = TextIndex(("name", "description"))
        docs = {
            ds.id: {
                "title": ds.title,
                "tags": " ; ".join(ds.tags),
                "identifier": ds.id,
                "department": ds.department,
                "description": ds.description,
                "column_names": " ; ".join(c.name for c in ds.columns),
                "column_descriptions": " ; ".join(c.description for c in ds.columns),
            }
            for ds in catalog
        }
        self.datasets.add_all(docs.items())
        self.columns.add_all(
            (f"{ds.id}/{c.name}", {"name": c.name, "description": c.description}) for ds in catalog for c in ds.columns
        )
        self.vocabulary = set(words(" ".join(text for doc in docs.values() for text in doc.values())))

    def knows(self, word: str) -> bool:
        return word in self.vocabulary or bool(self.datasets.matching(_phrase(word)))

    def close(self) -> None:
        self.datasets.close()
        self.columns.close()


def _read_query(text: str, glossary: Glossary, indexes: _Indexes) -> tuple[Term, ...]:
    """The query's words, each corrected if need be and expanded through the glossary."""
    seen: list[str] = []
    for w in words(text):
        if w not in STOP_WORDS and w not in seen:
            seen.append(w)
    if len(seen) > MAX_WORDS:
        raise TrustError(f"A search may have at most {MAX_WORDS} words; use the few that matter most.")
    known = indexes.vocabulary | glossary.vocabulary()
    terms = []
    for w in seen:
        read_as = w
        if len(w) >= MIN_TYPO_LENGTH and not glossary.groups_of(w) and not indexes.knows(w):
            close = difflib.get_close_matches(w, sorted(known), n=1, cutoff=TYPO_CUTOFF)
            read_as = close[0] if close else w
        terms.append(Term(w, read_as, glossary.alternatives(read_as), glossary.groups_of(read_as)))
    return tuple(terms)


def search(catalog: Catalog, text: str, glossary: Glossary | None = None, *, limit: int | None = None) -> list[Hit]:
    """The datasets that match ``text``, best first, each with why (see the module's docstring)."""
    text = text.strip()
    if not text:
        raise TrustError("Search for something: a word or two, e.g. `trust catalog search earnings`.")
    if len(text) > MAX_QUERY_CHARS:
        raise TrustError(f"A search may be at most {MAX_QUERY_CHARS} characters; use the few words that matter most.")
    indexes = _Indexes(catalog)
    try:
        terms = _read_query(text, glossary or Glossary(), indexes)
        if not terms:
            return []
        scores = dict(indexes.datasets.ranked(" OR ".join(f"({t.expression})" for t in terms)))
        reasons = _reasons(terms, indexes, list(scores))
    finally:
        indexes.close()
    hits = [
        Hit(catalog.get(ds_id), score, len({r.word for r in reasons[ds_id]}), len(terms), tuple(reasons[ds_id]))
        for ds_id, score in scores.items()
        if reasons[ds_id]  # a phrase that spans two columns' text in the index is no match
    ]
    hits.sort(key=lambda h: (-h.matched, -h.score, h.dataset.id))
    return hits[:limit] if limit is not None else hits


def _reasons(terms: Sequence[Term], indexes: _Indexes, dataset_ids: Sequence[str]) -> dict[str, list[Reason]]:
    """For each dataset, which of its fields and columns each word matched, through which alternative."""
    out: dict[str, list[Reason]] = {ds_id: [] for ds_id in dataset_ids}
    for term in terms:
        for alternative in term.alternatives:
            where: dict[str, list[str]] = {}
            for name in EXPLAINED:
                for ds_id in indexes.datasets.matching(_phrase(alternative), [name]):
                    where.setdefault(ds_id, []).append(name)
            by_column: dict[str, list[str]] = {}
            for key in indexes.columns.matching(_phrase(alternative)):
                ds_id, _, column = key.partition("/")
                by_column.setdefault(ds_id, []).append(column)
            for ds_id in (where.keys() | by_column.keys()) & out.keys():
                if any(r.word == term.word for r in out[ds_id]) and alternative != term.read_as:
                    continue  # one synonym is reason enough; the word itself is always named
                columns = by_column.get(ds_id, [])
                shown = [f"column {c}" for c in columns[:MAX_COLUMNS_SHOWN]]
                if len(columns) > MAX_COLUMNS_SHOWN:
                    shown.append(f"{len(columns) - MAX_COLUMNS_SHOWN} more columns")
                fields = where.get(ds_id, []) + shown
                if fields:
                    out[ds_id].append(Reason(term.word, term.read_as, alternative, tuple(fields)))
    return out
