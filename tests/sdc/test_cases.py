"""Every worked example in ``cases/*.yaml``, computed in plain Python and by the engine."""

from __future__ import annotations

import pytest

from .casebook import all_cases, check, run_duckdb, run_python

CASES = all_cases()


@pytest.mark.parametrize("case", [c for c in CASES if "python" in c.engines], ids=lambda c: c.id)
def test_case_python(case):
    check(case, run_python(case), "python")


@pytest.mark.parametrize("case", [c for c in CASES if "duckdb" in c.engines], ids=lambda c: c.id)
def test_case_duckdb(case, tmp_path):
    check(case, run_duckdb(case, tmp_path), "duckdb")
