"""Registrations load with clear errors, and bind to their locations by reading footers."""

from __future__ import annotations

import re

import pytest

from trust.catalog import Role, load_catalog
from trust.config import REPO_ROOT
from trust.errors import ConfigurationError, UnknownName


def test_repository_catalogue_registers_four_departments():
    catalog = load_catalog(REPO_ROOT / "catalog")
    assert {d.department for d in catalog} == {"DWP", "HMRC", "DfE", "DESNZ"}
    uc = catalog.get("dwp.uc_claims")
    assert uc.unit_key == "person_id"
    assert uc.column("nino").role is Role.DIRECT_IDENTIFIER
    assert uc.column("person_id").role is Role.LINKAGE_KEY
    assert catalog.get("DWP.UC_CLAIMS") is uc


def test_unknown_dataset_and_column_suggest(tmp_path):
    catalog = load_catalog(REPO_ROOT / "catalog")
    with pytest.raises(UnknownName, match="Did you mean 'dwp.uc_claims'"):
        catalog.get("dwp.uc_claim")
    with pytest.raises(UnknownName, match="Did you mean 'la_code'"):
        catalog.get("dwp.uc_claims").column("la_cod")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("department: X\ndatasets:\n  - id: x.y\n", "missing 'title'"),
        (
            "department: X\ndatasets:\n  - {id: x.y, title: t, location: l, unit_key: a, columns: {a: {role: secret}}}\n",
            "unknown role 'secret'",
        ),
        (
            "department: X\ndatasets:\n  - {id: x.y, title: t, location: l, unit_key: b, columns: {a: {role: dimension}}}\n",
            "unit_key 'b' is not one of its columns",
        ),
        (
            "department: X\ndatasets:\n  - {id: Bad, title: t, location: l, unit_key: a, columns: {a: {role: dimension}}}\n",
            "must look like 'department.name'",
        ),
        ("department: [unclosed\n", "not valid YAML"),
        (
            "department: X\ndatasets:\n  - {id: x.y, title: t, location: l, unit_key: a, columns: {a: {role: dimension, description: A, b}}}\n",
            "unknown field(s) ['b']",
        ),
    ],
)
def test_bad_registrations_are_clear(tmp_path, text, message):
    (tmp_path / "x.yaml").write_text(text)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_catalog(tmp_path)


def test_registration_reads_types_rows_and_fingerprints(trust, data_dir, departments):
    catalog = trust.catalog.bound()
    uc = catalog.get("dwp.uc_claims")
    assert uc.column("award_amount").type == "DOUBLE"
    assert uc.column("claim_start").type == "DATE"
    import pyarrow.parquet as pq

    local_rows = sum(
        pq.ParquetFile(p).metadata.num_rows for p in sorted((data_dir / "dwp" / "uc_claims").glob("*.parquet"))
    )
    assert uc.row_count == local_rows
    assert len(uc.fingerprint) == 64
    paye = catalog.get("hmrc.paye_employments")
    assert len(paye.files) == 4 and all(
        f.url.startswith(f"s3://{departments.endpoints.hmrc_bucket}/") for f in paye.files
    )


def test_missing_location_variable_is_clear(trust_home):
    from trust.config import write_config
    from trust.service import Trust

    write_config(trust_home, locations={}, credentials={})
    catalogue = Trust.open(trust_home).catalog
    uc = catalogue.bound().get("dwp.uc_claims")  # every dataset unavailable, none raising
    assert uc.status.value == "unavailable" and "not configured" in uc.reason
    assert "needs DWP_DATA_URL; set it under [locations]" in catalogue.detail("dwp.uc_claims")  # operators only
    assert "DWP_DATA_URL" not in uc.reason
