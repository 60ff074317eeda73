"""An output: the protected table an analyst receives, with its report and provenance.

A value: it knows nothing of the service that made it. An output that came through a session or
a client carries that ``origin`` (anything with ``request_release``), so
``out.request_release(...)`` asks the same place for its release.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pyarrow as pa

from trust.errors import TrustError
from trust.outputs.render import output_html, result_text
from trust.sdc.report import SUPPRESSED_MARKER, DisclosureReport


def _pandas() -> Any:
    """pandas, imported when a DataFrame is asked for (not by every user of an output)."""
    import pandas  # type: ignore[import-untyped]

    return pandas


def _nullable_dtype(arrow_type: pa.DataType) -> Any:
    """pandas' nullable dtype for an Arrow type of numbers or flags (None: pyarrow's default)."""
    pd = _pandas()

    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


class ReleaseRequester(Protocol):
    """Where an output can ask for its release: an embedded ``Session`` or a ``trust.Client``."""

    def request_release(
        self, outputs: Sequence[str], justification: str, *, cell_reasons: Mapping[str, Mapping[Any, str]] | None = None
    ) -> Any: ...


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
    versions: Mapping[str, str] = field(default_factory=dict)  # dataset -> the registered version it read
    engine: str = "duckdb"  # which engine ran it (trust.engine.base); both publish the same values
    origin: ReleaseRequester | None = field(default=None, compare=False, repr=False)  # session or client

    def for_analyst(self) -> Output:
        """The output as an analyst receives it, from every interface (embedded session, server, client,
        magic, CLI): published values and ``[c]``, each cell's status, the public thresholds and the
        datasets read; never the SQL that ran, the policy's filters, or any rule, unit count, figure,
        true value or note about withheld rows (those are for output checkers, inside the trust)."""
        parameters = self.report.parameters.public()
        keep = ("elapsed_s", "rows", "datasets", "rows_scanned")
        return replace(
            self,
            executed_sql="",
            report=self.report.for_analyst(),
            decision={"allow": True, "deny": [], "obligations": {"disclosure": parameters.public_json()}},
            stats={k: v for k, v in self.stats.items() if k in keep},
        )

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def rows(self, marker: str | None = SUPPRESSED_MARKER) -> list[tuple[Any, ...]]:
        cols = [self.table.column(i).to_pylist() for i in range(self.table.num_columns)]
        return [
            tuple(marker if self.suppressed[c][r] else cols[c][r] for c in range(len(cols)))
            for r in range(self.table.num_rows)
        ]

    def to_arrow(self) -> pa.Table:
        """The protected table; suppressed cells are null and listed in the schema metadata."""
        meta = {
            b"trust.suppressed": json.dumps(
                {name: [i for i, s in enumerate(self.suppressed[c]) if s] for c, name in enumerate(self.columns)}
            ).encode(),
            b"trust.output_id": self.id.encode(),
        }
        return self.table.replace_schema_metadata(meta)

    def to_pandas(self) -> Any:
        """The published values as a pandas DataFrame, ready for arithmetic: numbers in nullable
        columns (``Int64``, ``Float64``; ``boolean`` for flags), and a suppressed cell missing
        (``pd.NA``), so ``df.sum()`` adds what was published. ``out.suppressed_frame()`` says which
        cells were withheld; ``[c]`` is for the views (``str(out)``, HTML, CSV, XLSX), never the data.

            >>> df = out.to_pandas()                                   # doctest: +SKIP
            >>> df["turnover"].sum()                                   # doctest: +SKIP
        """
        pd = _pandas()

        table = pa.Table.from_arrays(  # positional names: pyarrow mixes the dtypes of columns named alike
            [col.cast(pa.float64()) if pa.types.is_decimal(col.type) else col for col in self.table.columns],
            names=[str(c) for c in range(len(self.columns))],
        )
        df = table.to_pandas(types_mapper=_nullable_dtype)
        df.columns = pd.Index(self.columns)
        for c in range(len(self.columns)):
            mask = self.suppressed[c] if c < len(self.suppressed) else ()
            if any(mask):  # null already in the protected table; never trust that alone
                df.isetitem(c, df.iloc[:, c].where(~pd.Series(mask, index=df.index, dtype=bool), pd.NA))
        return df

    def suppressed_frame(self) -> Any:
        """Which cells were withheld: a boolean DataFrame of the same shape, columns and index as
        ``out.to_pandas()``, True where the cell is suppressed (shown ``[c]``).

            >>> out.to_pandas().where(~out.suppressed_frame())         # doctest: +SKIP
        """
        pd = _pandas()

        rows = self.table.num_rows
        frame = pd.DataFrame(
            {str(c): [bool(s) for s in self.suppressed[c]] if c < len(self.suppressed) else [False] * rows
             for c in range(len(self.columns))},
            index=pd.RangeIndex(rows),
            dtype=bool,
        )  # fmt: skip
        frame.columns = pd.Index(self.columns)
        return frame

    def request_release(
        self,
        justification: str,
        *,
        with_outputs: Sequence[Output | str] = (),
        cell_reasons: Mapping[Any, str] | None = None,
        via: ReleaseRequester | None = None,
    ) -> Any:
        """Ask for this output (and ``with_outputs``, of the same project) to leave the trust.

        Returns the ``ReleaseRequest``, submitted to two output checkers. ``cell_reasons`` gives,
        for each of this output's cells in review, why it is safe: ``{(row, column): reason}``.
        The request goes where the output came from (its session or client), or to ``via``.

            >>> request = out.request_release("Regional counts for the evaluation report, March 2027.")  # doctest: +SKIP
            >>> request.state                                                                              # doctest: +SKIP
            <ReleaseState.SUBMITTED: 'submitted'>
        """
        target = via or self.origin
        if target is None:
            raise TrustError(
                f"Output {self.id} was not received through a session or a client; ask for its release "
                "with session.request_release([...]) or client.request_release([...]).",
                output=self.id,
            )
        ids = [self.id, *(o if isinstance(o, str) else o.id for o in with_outputs)]
        reasons = {self.id: dict(cell_reasons)} if cell_reasons else None
        return target.request_release(ids, justification, cell_reasons=reasons)

    def __str__(self) -> str:
        return result_text(self.columns, self.rows(), footer=self.report.summary())

    def _repr_html_(self) -> str:
        return output_html(self)


@dataclass(frozen=True)
class OutputSummary:
    """A stored output without its table, for lists."""

    id: str
    user: str
    project: str
    created: str
    sql: str
    status: str  # the report's overall status: ok, suppressed or review
    datasets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "project": self.project,
            "created": self.created,
            "sql": self.sql,
            "status": self.status,
            "datasets": list(self.datasets),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OutputSummary:
        return cls(
            str(raw["id"]),
            str(raw["user"]),
            str(raw["project"]),
            str(raw["created"]),
            str(raw["sql"]),
            str(raw["status"]),
            tuple(raw.get("datasets", ())),
        )
