"""The default for rows below the minimum: withheld whole, so a row's presence answers no question.

A ``[c]`` row still shows its group keys: ``WHERE la_code = 'E06000053' AND award_amount > X``
would come back or not depending on the three claimants' awards. Withheld, "no one" and "one to
nine people" give the same answer.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.views import checker_view
from trust.service import Trust


@pytest.fixture
def ana(trust: Trust):
    return trust.session("ana", "demo-employment-support")


def test_there_is_no_setting_to_show_small_rows(trust: Trust, trust_home: Path, monkeypatch: pytest.MonkeyPatch):
    from trust.config import SETTINGS

    assert not [s for s in SETTINGS if "small" in s.name or "withhold" in s.name]
    monkeypatch.setenv("TRUST_SMALL_ROWS", "mark")  # the retired setting has no effect
    out = (
        Trust.open(trust_home)
        .session("ana", "demo-employment-support")
        .sql("SELECT la_code, count(*) AS n FROM dwp.uc_claims WHERE la_code = 'E06000053' GROUP BY la_code")
    )
    assert out.table.num_rows == 0


def _direct(data_dir: Path) -> dict[str, int]:
    return dict(
        duckdb.execute(
            f"SELECT la_code, count(DISTINCT person_id) FROM read_parquet('{data_dir}/dwp/uc_claims/*.parquet') "
            "WHERE NOT opted_out GROUP BY la_code"
        ).fetchall()
    )


def test_small_areas_are_withheld_and_the_boundary_passes(trust, ana, data_dir):
    out = ana.sql("SELECT la_code, count(*) AS claimants FROM dwp.uc_claims GROUP BY la_code")
    direct = _direct(data_dir)
    checked = checker_view(trust, out)
    true = {r[0]: c.figures["value"] for r, c in zip(checked.rows(), checked.report.cells)}
    assert true == {la: n for la, n in direct.items() if n >= 10}  # small rows never left the engine
    assert direct["E06000053"] == 3 and direct["E09000001"] == 7  # Isles of Scilly, City of London
    assert direct["E06000017"] == 10 and true["E06000017"] == 10  # Rutland: a cell of exactly 10 passes
    assert "E06000053" not in str(out) and "E06000053" not in out.to_pandas().to_string()
    assert "not shown" in out.report.summary()
    assert "notes" not in out.report.to_json(figures=False)  # no note reaches the analyst


def test_with_suppression_instead_the_checkers_see_what_was_withheld(suppressing, data_dir):
    out = suppressing.session("ana", "demo-employment-support").sql(
        "SELECT la_code, count(*) AS claimants FROM dwp.uc_claims GROUP BY la_code"
    )
    direct = _direct(data_dir)
    assert dict(out.rows()) == {la: n for la, n in direct.items() if n >= 10}  # exact numbers, small rows withheld
    note = next(n for n in checker_view(suppressing, out).report.notes if "withheld" in n)
    assert "E06000053" in note and "E09000001" in note  # the checkers see what was withheld
    assert out.report.notes == () and "E06000053" not in str(out)


@pytest.mark.parametrize("threshold", [5, 800, 1000000000])
def test_withheld_rows_answer_no_question(ana, threshold):
    out = ana.sql(
        "SELECT la_code, count(*) AS n FROM dwp.uc_claims "
        f"WHERE la_code = 'E06000053' AND award_amount > {threshold} GROUP BY la_code"
    )
    assert out.rows() == []
    nobody = ana.sql(
        "SELECT la_code, count(*) AS n FROM dwp.uc_claims WHERE la_code = 'E06000053' "
        "AND award_amount < 0 GROUP BY la_code"
    )
    assert out.report.summary() == nobody.report.summary()
