"""A catalogue for unit tests of the SQL stages: the real registrations, with typed columns
and placeholder files, so no server is needed."""

from __future__ import annotations

import dataclasses

import pytest

from trust.catalog import Catalog, FileFooter, load_catalog
from trust.config import REPO_ROOT

TYPES = {
    "date_of_birth": "DATE",
    "claim_start": "DATE",
    "award_start": "DATE",
    "award_amount": "DOUBLE",
    "weekly_amount": "DOUBLE",
    "gross_pay": "DOUBLE",
    "tax_paid": "DOUBLE",
    "turnover": "DOUBLE",
    "employee_count": "INTEGER",
    "tax_month": "SMALLINT",
    "achieved": "BOOLEAN",
    "opted_out": "BOOLEAN",
}


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    registered = load_catalog(REPO_ROOT / "catalog")
    out = {}
    for ds in registered:
        cols = tuple(dataclasses.replace(c, type=TYPES.get(c.name, "VARCHAR")) for c in ds.columns)
        files = (FileFooter(f"http://127.0.0.1:9/{ds.id}.parquet", 1000, 10, 1, 100, (), "x"),)
        out[ds.id] = dataclasses.replace(ds, columns=cols, files=files)
    return Catalog(out)


@pytest.fixture()
def local_catalog(catalog: Catalog, tmp_path):
    """A catalogue whose datasets are small Parquet files written here from rows given per dataset, so
    a plan's SQL can run in DuckDB and its hidden columns be checked by value, not by text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {
        "DATE": pa.date32(),
        "DOUBLE": pa.float64(),
        "INTEGER": pa.int32(),
        "SMALLINT": pa.int16(),
        "BOOLEAN": pa.bool_(),
        "VARCHAR": pa.string(),
    }

    def build(rows: dict[str, list[dict]]) -> Catalog:
        out = dict(catalog.datasets)
        for ds_id, records in rows.items():
            ds = catalog.get(ds_id)
            schema = pa.schema([(c.name, arrow_types[c.type]) for c in ds.columns])
            table = pa.Table.from_pylist([{c.name: r.get(c.name) for c in ds.columns} for r in records], schema=schema)
            path = tmp_path / f"{ds_id}.parquet"
            pq.write_table(table, path)
            files = (FileFooter(str(path), path.stat().st_size, table.num_rows, 1, 100, (), "x"),)
            out[ds_id] = dataclasses.replace(ds, files=files)
        return Catalog(out)

    return build
