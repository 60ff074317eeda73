"""Schema, row counts and sizes from Parquet footers: metadata reads only, never the data."""

from __future__ import annotations

import hashlib

import duckdb

from trust.catalog.model import FileFooter
from trust.engine.errors import map_engine_error
from trust.engine.sandbox import Access, Limits, _literal, open_sandbox


def expand(locations: tuple[str, ...], access: Access, limits: Limits) -> tuple[str, ...]:
    """Concrete file URLs for locations that may hold globs (S3 lists; HTTP must name files)."""
    out: list[str] = []
    con = open_sandbox(access, limits)
    try:
        for loc in locations:
            if any(ch in loc for ch in "*?["):
                rows = con.execute(f"SELECT file FROM glob({_literal(loc)}) ORDER BY file").fetchall()
                out.extend(r[0] for r in rows)
            else:
                out.append(loc)
    except duckdb.Error as exc:
        raise map_engine_error(exc, timeout_s=limits.timeout_s) from exc
    finally:
        con.close()
    return tuple(out)


def read_footers(urls: tuple[str, ...], access: Access, limits: Limits) -> tuple[FileFooter, ...]:
    """One ``FileFooter`` per file, from ranged reads of the footer only."""
    if not urls:
        return ()
    con = open_sandbox(access, limits, metadata_cache=True)
    try:
        return footers_on(con, urls)
    except duckdb.Error as exc:
        raise map_engine_error(exc, timeout_s=limits.timeout_s) from exc
    finally:
        con.close()


def footers_on(con: duckdb.DuckDBPyConnection, urls: tuple[str, ...]) -> tuple[FileFooter, ...]:
    """The footers of ``urls`` through ``con``: a query that just read them answers from its metadata cache."""
    files = "[" + ", ".join(_literal(u) for u in urls) + "]"
    meta = con.execute(
        f"SELECT file_name, file_size_bytes, num_rows, num_row_groups, footer_size FROM parquet_file_metadata({files})"
    ).fetchall()
    schema = con.execute(
        f"SELECT file_name, name, duckdb_type FROM parquet_schema({files}) "
        "WHERE num_children IS NULL OR num_children = 0 ORDER BY file_name, column_id"
    ).fetchall()
    digests = footer_digests(con, urls)
    columns: dict[str, list[tuple[str, str]]] = {}
    for file_name, name, typ in schema:
        columns.setdefault(file_name, []).append((name, typ))
    return tuple(
        FileFooter(
            url=file_name,
            size_bytes=int(size),
            num_rows=int(rows),
            num_row_groups=int(rgs),
            footer_size=int(footer),
            columns=tuple(columns.get(file_name, ())),
            footer_digest=digests.get(file_name, ""),
        )
        for file_name, size, rows, rgs, footer in meta
    )


def footer_digests(con: duckdb.DuckDBPyConnection, urls: tuple[str, ...]) -> dict[str, str]:
    """Each file's footer hash: its row groups' columns, types, statistics, sizes (one metadata read).

    This is what a query checks after it ran (``trust.engine.execute``); only when a hash differs is
    the whole footer read again to say what changed."""
    files = "[" + ", ".join(_literal(u) for u in urls) + "]"
    groups = con.execute(
        f"SELECT file_name, row_group_id, column_id, path_in_schema, type, stats_min, stats_max, "
        f"stats_null_count, total_compressed_size FROM parquet_metadata({files}) "
        "ORDER BY file_name, row_group_id, column_id"
    ).fetchall()
    digests: dict[str, hashlib._Hash] = {}
    for row in groups:
        digests.setdefault(row[0], hashlib.sha256()).update(repr(row[1:]).encode())
    return {name: h.hexdigest() for name, h in digests.items()}
