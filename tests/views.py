"""Ways for tests to look at an output: as the analyst receives it, or as an output checker sees it."""

from __future__ import annotations

from typing import Any

from trust.service import Trust


def checker_view(trust: Trust, out: Any) -> Any:
    """The stored output as an output checker sees it: true values and every figure (an analyst's copy
    carries published values and statuses only)."""
    return trust.queries.output("carol", out.id)


class AsChecker:
    """A session whose outputs come back as an output checker sees them (true values, every figure):
    for tests of disclosure control's decisions. What the analyst receives is ``session.sql``."""

    def __init__(self, trust: Trust, user: str, project: str) -> None:
        self.trust, self.session = trust, trust.session(user, project)
        self.user, self.project = user, project

    def sql(self, text: str) -> Any:
        return checker_view(self.trust, self.session.sql(text))


def true_rows(out: Any) -> list[tuple[Any, ...]]:
    """A checker's view of an output as rows of true values (every aggregate cell, shown or hidden)."""
    true = {(c.row, c.column): c.figures["value"] for c in out.report.cells}
    names = out.columns
    return [tuple(true.get((r, n), v) for n, v in zip(names, row)) for r, row in enumerate(out.rows(marker=None))]
