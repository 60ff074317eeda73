"""The refusal and suppression oracle: does the trust's answer depend on whether a few people exist?

Each case (``tests/attacks/oracles.yaml``) is one query written with a threshold ``{y}``, asked
twice: once where a small group of 1 to 9 people matches, once where nobody does. Each variant
runs in a fresh project, so no differencing history is involved and only the data differs. The
*shape* of the answer is compared: result or refusal, the refusal's type and message, which rows
come back and which cells are ``[c]``; values are left out, since a total may legitimately include
the group (and, perturbed, differ by noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlglot import exp

from tests.attacks.aggregates import rewrite
from tests.attacks.cases import Actor, Query, Sequence
from tests.attacks.catalogue import dataset
from tests.attacks.worlds import raw_world

ORACLES = Path(__file__).parent / "oracles.yaml"
VARIANTS = ("present", "absent")


@dataclass(frozen=True)
class OracleCase:
    name: str
    description: str
    user: str
    project: str
    sql: str
    group: str
    present: float
    absent: float
    settings: dict[str, Any] = field(default_factory=dict)

    def text(self, variant: str) -> str:
        return self.sql.format(y=getattr(self, variant)).strip()

    def group_sql(self, variant: str) -> str:
        return self.group.format(y=getattr(self, variant)).strip()

    def sequences(self) -> list[Sequence]:
        """One single-query sequence per variant, so ``open_arena`` gives each its own project."""
        actor = Actor("a", self.user, self.project)
        return [
            Sequence(f"{self.name}-{v}", "oracle", self.description, (actor,), (Query("a", self.text(v)),))
            for v in VARIANTS
        ]


def load_oracles(path: Path = ORACLES) -> list[OracleCase]:
    out = []
    for raw in yaml.safe_load(path.read_text(encoding="utf-8")):
        out.append(
            OracleCase(
                raw["name"],
                " ".join(raw["description"].split()),
                raw["actor"]["user"],
                raw["actor"]["project"],
                " ".join(raw["sql"].split()),
                raw["group"],
                raw["present"],
                raw["absent"],
                dict(raw.get("settings") or {}),
            )
        )
    return out


def shape(session: Any, sql: str) -> tuple[Any, ...]:
    """What the answer shows apart from its values: rows (by their keys) and which cells are [c]."""
    from trust.errors import TrustError

    try:
        out = session.sql(sql)
    except TrustError as exc:
        return ("refused", type(exc).__name__, str(exc))
    keys = rewrite(sql, lambda a: exp.column("atom_id"), exp.column("atom_id")).key_positions(0)
    rows = []
    for r in range(out.table.num_rows):
        rows.append(
            (
                tuple(out.table.column(i)[r].as_py() for i in keys),
                tuple(bool(out.suppressed[c][r]) for c in range(out.table.num_columns)),
            )
        )
    return ("result", tuple(out.columns), tuple(sorted(rows, key=repr)))


def group_size(case: OracleCase, variant: str, filters: dict[str, list[str]], data_dir: Path) -> int:
    """How many people the small group has in this variant (ground truth, with the policy's filters)."""
    ds = case.group_sql(variant).split(" FROM ", 1)[1].split()[0]
    con = raw_world({ds: dataset(ds)}, data_dir, filters)
    return int(con.execute(case.group_sql(variant)).fetchone()[0])


def policy_filters(session: Any, sql: str) -> dict[str, list[str]]:
    """The row filters the policy gives this actor, from the trust's own explanation of the query."""
    explained = session.explain(sql)
    as_json = explained.to_json() if hasattr(explained, "to_json") else explained
    decision = as_json.get("decision") or {}
    found: dict[str, list[str]] = {}
    for f in (decision.get("obligations") or {}).get("row_filters") or ():
        found.setdefault(f["dataset"], []).append(f["expression"])
    return found
