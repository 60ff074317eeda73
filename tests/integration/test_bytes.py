"""Registration and queries read metadata and the needed column chunks only: proven from the
departments' own servers' byte counts. Nothing is written to local disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from trust.service import Trust


def _files(root: Path) -> set[str]:
    """Files under ``root``; a folder another process removes while it is walked is skipped."""
    found: set[str] = set()
    for folder, _dirs, names in os.walk(root, onerror=lambda _e: None):
        found.update(os.path.join(folder, n) for n in names)
    return found


def _could_be_ours(path: str) -> bool:
    """Files a query engine could leave: DuckDB temp/spill files, data copies. (Other processes on a
    busy machine may write to /tmp meanwhile; their files are not ours.)"""
    name = Path(path).name.lower()
    return any(k in name for k in ("duckdb", ".parquet", ".tmp", "spill", ".arrow", ".block")) or "/.tmp/" in path


def test_registration_reads_only_footers(trust: Trust, departments):
    departments.reset_counters()
    catalog = trust.catalog.bound()
    served = sum(departments.bytes_served().values())
    held = sum(d.size_bytes for d in catalog)
    # DuckDB reads each file's tail once: the footer, or 16 KiB when the footer is smaller.
    tails = sum(max(16 * 1024, f.footer_size + 8) for d in catalog for f in d.files)
    assert served <= tails + 16 * 1024, (served, tails)  # + the S3 listing for HMRC's glob
    assert served < 0.25 * held, (served, held)


def test_two_column_aggregate_fetches_a_small_fraction(trust: Trust, departments):
    session = trust.session("ana", "demo-employment-support")
    catalog = trust.catalog.bound()
    paye = catalog.get("hmrc.paye_employments")
    departments.reset_counters()
    out = session.sql("SELECT tax_month, sum(tax_paid) AS tax FROM hmrc.paye_employments GROUP BY tax_month")
    assert out.table.num_rows == 12
    served = departments.bytes_served()
    assert served["DWP"] == served["DfE"] == served["DESNZ"] == 0
    assert served["HMRC"] < 0.5 * paye.size_bytes, (served["HMRC"], paye.size_bytes)

    uc = catalog.get("dwp.uc_claims")
    departments.reset_counters()
    session.sql("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region")
    fraction = departments.bytes_served()["DWP"] / uc.size_bytes
    assert fraction < 0.5, fraction


def test_nothing_is_written_to_local_disk(trust: Trust, trust_home: Path, tmp_path_factory):
    session = trust.session("ana", "demo-employment-support")
    session.sql("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region")  # state db exists now
    # Where DuckDB could spill or cache: the temp folder, the working folder, ~/.duckdb.
    watched = [Path(tempfile.gettempdir()), Path.cwd(), Path.home() / ".duckdb"]
    before = {str(w): _files(w) for w in watched}
    home_before = _files(trust_home)
    sizes = {p: os.path.getsize(p) for p in home_before}
    session.sql(
        "SELECT u.region, sum(p.gross_pay) AS pay FROM dwp.uc_claims u "
        "JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region"
    )
    for w in watched:
        # Other pytest runs on a shared machine generate their own department files under /tmp.
        others = str(tmp_path_factory.getbasetemp().parent)
        new = {f for f in _files(w) - before[str(w)] if _could_be_ours(f) and not f.startswith(others)}
        assert new == set(), w
    assert _files(trust_home) == home_before  # only the state database grows
    grown = {p for p in home_before if os.path.getsize(p) != sizes[p]}
    assert all(Path(p).name.startswith("state.db") for p in grown), grown
