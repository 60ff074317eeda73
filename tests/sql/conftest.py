"""A catalogue for unit tests of the SQL stages: the real registrations, with typed columns
and placeholder files, so no server is needed."""

from __future__ import annotations

import dataclasses

import pytest

from tests.sql.catalogs import typed_catalog
from trust.catalog import Catalog, FileFooter


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return typed_catalog()


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
