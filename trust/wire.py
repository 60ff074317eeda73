"""What travels between the trust server and its clients: protected outputs and errors.

An output travels as an Arrow IPC stream whose schema metadata carries ``trust.output``, a JSON
document with the analyst-safe parts of the output: the disclosure report without the checkers'
figures, the thresholds applied, the datasets read and their row counts. Small tables may
travel as JSON instead. The generated SQL and the policy's row filters stay inside the trust.
Errors travel as JSON ``{error, type, message, ...context}`` with the status from
``trust.errors``; the client rebuilds the same ``TrustError`` subclass from ``error``.

This module needs only pyarrow, so the client can use it without the server's dependencies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa

from trust.errors import (
    ERRORS_BY_CODE,
    NotAuthenticated,
    NotAuthorised,
    PolicyDenied,
    QueryRejected,
    QueryTimeout,
    TrustError,
    UnknownName,
)
from trust.outputs.output import Output
from trust.sdc.parameters import Parameters
from trust.sdc.report import DisclosureReport

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"
JSON_MAX_ROWS = 2000  # larger tables travel only as Arrow
META_KEY = b"trust.output"


def output_meta(out: Output, datasets: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The analyst-safe description of an output (``Output.for_analyst``); ``datasets`` maps id to
    {department, title, rows}."""
    out = out.for_analyst()
    disclosure = out.report.parameters
    read = [{"id": d, **dict(datasets.get(d, {}))} for d in sorted(out.fingerprints)]
    return {
        "id": out.id,
        "user": out.user,
        "project": out.project,
        "created": out.created,
        "sql": out.sql,
        "report": out.report.to_json(figures=False),
        "disclosure": disclosure.public_json(),
        "datasets": read,
        "rows_scanned": sum(int(d.get("rows") or 0) for d in read),
        "fingerprints": dict(out.fingerprints),
        "versions": dict(out.versions),
        "stats": {k: v for k, v in dict(out.stats).items() if k in {"elapsed_s", "rows"}},
    }


def output_to_arrow(out: Output, meta: Mapping[str, Any]) -> bytes:
    table = out.to_arrow()
    metadata = dict(table.schema.metadata or {})
    metadata[META_KEY] = json.dumps(meta, default=str).encode()
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def output_to_json(out: Output, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Suppressed cells are null here; ``output.report.cells`` says which and why."""
    rows = [[_jsonable(v) for v in row] for row in out.rows(marker=None)]
    return {
        "output": dict(meta),
        "columns": out.columns,
        "types": [str(f.type) for f in out.table.schema],
        "rows": rows,
    }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def output_from_meta(meta: Mapping[str, Any], table: pa.Table) -> Output:
    """Rebuild the same ``Output`` the embedded session returns, from what the server sent."""
    parameters = Parameters.from_json(dict(meta.get("disclosure") or {}))
    decision = {"allow": True, "deny": [], "obligations": {"disclosure": parameters.public_json()}}
    report = DisclosureReport.from_json(meta.get("report") or {}, parameters)
    table = table.replace_schema_metadata(None)
    datasets = {d["id"]: d.get("rows") for d in meta.get("datasets", ())}
    return Output(
        id=meta["id"],
        user=meta["user"],
        project=meta["project"],
        created=meta["created"],
        sql=meta["sql"],
        executed_sql="",  # the generated SQL (with row filters) stays inside the trust
        table=table,
        suppressed=report.mask(table.column_names, table.num_rows),
        report=report,
        decision=decision,
        fingerprints=dict(meta.get("fingerprints") or {}),
        stats={**dict(meta.get("stats") or {}), "datasets": datasets, "rows_scanned": meta.get("rows_scanned")},
        versions=dict(meta.get("versions") or {}),
    )


def output_from_arrow(body: bytes) -> Output:
    table = pa.ipc.open_stream(body).read_all()
    meta = json.loads((table.schema.metadata or {})[META_KEY])
    return output_from_meta(meta, table)


def output_from_json(body: Mapping[str, Any]) -> Output:
    columns = list(body["columns"])
    rows = body["rows"]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)}) if columns else pa.table({})
    return output_from_meta(body["output"], table)


def error_body(exc: TrustError) -> dict[str, Any]:
    return json.loads(json.dumps(exc.to_dict(), default=str))


def error_from_body(status: int, body: Any) -> TrustError:
    """The ``TrustError`` subclass the server raised, with its message and context."""
    if not isinstance(body, Mapping) or "message" not in body:
        return _by_status(status)(f"The trust answered HTTP {status} without an explanation.")
    code = str(body.get("error", ""))
    cls = ERRORS_BY_CODE.get(code) or _by_status(status)
    context = {k: v for k, v in body.items() if k not in {"error", "type", "message"}}
    exc = cls.__new__(cls)
    TrustError.__init__(exc, str(body["message"]), **context)
    # The attributes subclasses set in their own __init__.
    for name in _attrs(cls):
        value = context.get(name)
        setattr(exc, name, tuple(value) if name == "position" and value is not None else value)
    return exc


def _attrs(cls: type[TrustError]) -> set[str]:
    names: set[str] = set()
    if issubclass(cls, QueryRejected):
        names |= {"rule", "construct", "position"}
    if issubclass(cls, PolicyDenied):
        names.add("denials")
    return names


def _by_status(status: int) -> type[TrustError]:
    return {401: NotAuthenticated, 403: NotAuthorised, 404: UnknownName, 504: QueryTimeout}.get(status, TrustError)
