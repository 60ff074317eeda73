"""An output: the protected table an analyst receives, with its report and provenance."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from trust.sdc.report import SUPPRESSED_MARKER, DisclosureReport


@dataclass(frozen=True)
class Output:
    id: str
    user: str
    project: str
    created: str
    sql: str  # the analyst's text, for the record
    executed_sql: str  # generated from the checked tree; this is what ran
    table: pa.Table  # protected: suppressed cells are null
    suppressed: tuple[tuple[bool, ...], ...]  # per column, per row
    report: DisclosureReport
    decision: Mapping[str, Any]
    fingerprints: Mapping[str, str]
    stats: Mapping[str, Any] = field(default_factory=dict)
    origin: Any = field(default=None, compare=False, repr=False)  # the trust.Client it came from; None in-process

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    def rows(self, marker: str | None = SUPPRESSED_MARKER) -> list[tuple[Any, ...]]:
        cols = [self.table.column(i).to_pylist() for i in range(self.table.num_columns)]
        return [
            tuple(marker if self.suppressed[c][r] else cols[c][r] for c in range(len(cols)))
            for r in range(self.table.num_rows)
        ]

    def to_arrow(self) -> pa.Table:
        """The protected table; suppressed cells are null and listed in the schema metadata."""
        meta = {b"trust.suppressed": json.dumps(
            {name: [i for i, s in enumerate(self.suppressed[c]) if s] for c, name in enumerate(self.columns)}
        ).encode(), b"trust.output_id": self.id.encode()}
        return self.table.replace_schema_metadata(meta)

    def to_pandas(self, marker: str | None = SUPPRESSED_MARKER) -> Any:
        """A DataFrame; suppressed cells hold ``marker`` ('[c]'), or are missing with ``marker=None``."""

        df = self.table.to_pandas()
        if marker is not None:
            for c, name in enumerate(self.columns):
                if any(self.suppressed[c]):
                    df[name] = df[name].astype(object)
                    for r, s in enumerate(self.suppressed[c]):
                        if s:
                            df.at[r, name] = marker
        return df

    def request_release(self, justification: str, *, with_outputs: Sequence[Output | str] = (),
                        cell_reasons: Mapping[Any, str] | None = None, trust: Any = None) -> Any:
        """Ask for this output (and ``with_outputs``, of the same project) to leave the trust.

        Returns the ``ReleaseRequest``, submitted to two output checkers. ``cell_reasons`` gives,
        for each of this output's cells in review, why it is safe: ``{(row, column): reason}``.
        An output from ``trust.Client`` asks its server; an embedded one asks ``trust`` (a ``Trust``
        or ``Session``; by default the trust at ``$TRUST_HOME``), as its author.

            >>> request = out.request_release("Regional counts for the evaluation report, March 2027.")  # doctest: +SKIP
            >>> request.state                                                                              # doctest: +SKIP
            <ReleaseState.SUBMITTED: 'submitted'>
        """
        ids = [self.id, *(o if isinstance(o, str) else o.id for o in with_outputs)]
        reasons = {self.id: dict(cell_reasons)} if cell_reasons else None
        if self.origin is not None:
            return self.origin.request_release(ids, justification, cell_reasons=reasons)
        if trust is None:
            from trust.service import Trust

            trust = Trust.open()
        service = getattr(trust, "trust", trust)  # a Session holds its Trust
        return service.request_release(self.user, ids, justification, cell_reasons=reasons)

    def __str__(self) -> str:
        return render_text(self.columns, self.rows(), footer=self.report.summary())

    def _repr_html_(self) -> str:
        from trust.client.display import output_html  # one renderer for embedded and client outputs

        return output_html(self)


def format_value(value: Any) -> str:
    """How a cell is shown: thousands separators, two decimals for fractions, blank for null."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render_text(columns: list[str], rows: list[tuple[Any, ...]], *, footer: str = "", limit: int = 40) -> str:
    shown = [[format_value(v) for v in row] for row in rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)) for r in shown]
    if len(rows) > limit:
        out.append(f"... {len(rows) - limit} more rows")
    if footer:
        out.append(footer)
    return "\n".join(out)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit() or text == SUPPRESSED_MARKER
