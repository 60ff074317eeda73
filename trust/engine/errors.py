"""Engine failures mapped to safe messages.

DuckDB's own messages can echo data values (a failed cast prints the value) or the generated
SQL (which holds row filters). None of that text reaches a user: each failure class maps to a
fixed message that says what to do. The original exception is chained for the server log only.
"""

from __future__ import annotations

import re

import duckdb

from trust.errors import DatasetUnavailable, QueryFailed, QueryTimeout, TrustError

# Only function names and SQL type names are taken from DuckDB's text: never values, never names
# from the generated SQL (which holds the policy's row filters).
_NO_FUNCTION = re.compile(
    r"No function matches the given name and argument types '([a-z_+\-*/%]+)\(([A-Z0-9_, \[\]]*)\)'"
)
_TYPES = re.compile(r"(?:compare|mix|combine) values? of types? ([A-Z0-9_]+) and (?:type )?([A-Z0-9_]+)")
# Binder failures whose cause a person can fix, matched on DuckDB's fixed wording (no values in it).
_BINDER_HINTS = (
    (
        "must appear in the GROUP BY clause",
        "A column in SELECT, HAVING or ORDER BY is neither a GROUP BY key nor inside an aggregate. "
        "Add it to GROUP BY, or order by a group key.",
    ),
    (
        "aggregate function calls cannot be nested",
        "An aggregate inside another aggregate is not possible; aggregate once.",
    ),
    (
        "cannot contain aggregates",
        "A WHERE or GROUP BY clause cannot hold an aggregate; filter on aggregates with HAVING.",
    ),
)


# DuckDB reports some failures of a read from a server as a plain ``duckdb.Error``.
_TRANSFER_WORDS = ("partial file", "http", "connection", "timed out", "timeout", "could not establish", "socket")


def _is_transfer_failure(exc: BaseException) -> bool:
    return type(exc) is duckdb.Error and any(w in str(exc).lower() for w in _TRANSFER_WORDS)


def map_engine_error(exc: BaseException, *, timeout_s: float, departments: tuple[str, ...] = ()) -> TrustError:
    if isinstance(exc, duckdb.InterruptException):
        return QueryTimeout(
            f"The query ran longer than its {timeout_s:g} s limit and was stopped. "
            "Narrow it (fewer datasets, a filter on a dimension) or ask for a longer limit.",
            timeout_s=timeout_s,
        )
    if isinstance(exc, (duckdb.HTTPException, duckdb.IOException)) or _is_transfer_failure(exc):
        who = " or ".join(departments) or "the department"
        if "timeout" in str(exc).lower() or "timed out" in str(exc).lower():
            return DatasetUnavailable(
                f"{who}'s server did not answer within its time limit, so the data could not be read. "
                "Try again later; other departments' datasets are not affected.",
                department=", ".join(departments) or None,
            )
        return DatasetUnavailable(
            f"The data could not be read from {who}'s server: the connection failed or broke off. "
            "Try again later; if it persists, the department's data owner should check its service.",
            department=", ".join(departments) or None,
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryFailed(
            "The query needed more memory than the trust allows. Group by fewer or coarser dimensions, "
            "or filter to fewer rows.",
        )
    if isinstance(exc, duckdb.ConversionException):
        return QueryFailed(
            "A value could not be converted to the type the query asked for (a CAST or a comparison "
            "with an incompatible type). Check the column types with `trust catalog show`; "
            "the value itself is not shown.",
        )
    if isinstance(exc, duckdb.BinderException):
        text = str(exc)
        m = _NO_FUNCTION.search(text)
        if m:
            return QueryFailed(
                f"{m.group(1)}() cannot take arguments of type ({m.group(2)}). "
                "Check the column types with `trust catalog show` and CAST where needed.",
                function=m.group(1),
            )
        m = _TYPES.search(text)
        if m:
            return QueryFailed(
                f"Values of type {m.group(1)} and {m.group(2)} cannot be compared or combined. "
                "Check the column types with `trust catalog show` and TRY_CAST where needed."
            )
        for needle, message in _BINDER_HINTS:
            if needle in text:
                return QueryFailed(message)
        return QueryFailed(
            "The query's types or names do not fit together. Check the column types with `trust catalog show`."
        )
    if isinstance(exc, (duckdb.InvalidInputException, duckdb.OutOfRangeException)):
        return QueryFailed(
            "The query failed on a value out of range or invalid for its operation (e.g. division "
            "producing an overflow). The value itself is not shown; check the arithmetic.",
        )
    return QueryFailed("The query failed inside the trust's engine. The details are logged for the trust's operators.")
