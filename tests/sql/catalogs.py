"""The real registrations with typed columns and placeholder files: a catalogue the SQL stages can
use without a server (tests of the stages, and of the Spark guard on the generator's SQL)."""

from __future__ import annotations

import dataclasses

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


def typed_catalog() -> Catalog:
    out = {}
    for ds in load_catalog(REPO_ROOT / "catalog"):
        cols = tuple(dataclasses.replace(c, type=TYPES.get(c.name, "VARCHAR")) for c in ds.columns)
        files = (FileFooter(f"http://127.0.0.1:9/{ds.id}.parquet", 1000, 10, 1, 100, (), "x"),)
        out[ds.id] = dataclasses.replace(ds, columns=cols, files=files)
    return Catalog(out)
