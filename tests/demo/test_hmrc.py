from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trust.demo import generate as g


@pytest.fixture(scope="module")
def paye(demo: g.DemoData) -> pd.DataFrame:
    return pa.concat_tables(pq.read_table(p) for p in demo["hmrc.paye_employments"].paths).to_pandas()


def test_to_date_figures_accumulate_per_employment(paye: pd.DataFrame) -> None:
    rows = paye.sort_values(["person_id", "employer_id", "tax_month"])
    jobs = rows.groupby(["person_id", "employer_id"], sort=False)
    taxable = rows["gross_pay"] - rows["pension_contributions"] + rows["benefits_in_kind"]
    assert np.allclose(
        taxable.groupby([rows["person_id"], rows["employer_id"]]).cumsum(), rows["taxable_pay_to_date"], atol=0.01
    )
    assert np.allclose(jobs["tax_paid"].cumsum(), rows["tax_paid_to_date"], atol=0.01)


def test_starters_and_leavers_mark_the_ends_of_employments(paye: pd.DataFrame) -> None:
    months = paye.groupby(["person_id", "employer_id"])["tax_month"].agg(["min", "max"])
    rows = paye.join(months, on=["person_id", "employer_id"])
    assert (rows["starter_flag"] == ((rows["tax_month"] == rows["min"]) & (rows["min"] > 1))).all()
    assert (rows["leaver_flag"] == ((rows["tax_month"] == rows["max"]) & (rows["max"] < 12))).all()
    assert paye.groupby(["person_id", "employer_id"])["payroll_id_changed"].sum().max() <= 1
    assert 0 < paye["payroll_id_changed"].mean() < 0.005


def test_tax_follows_the_tax_code(paye: pd.DataFrame) -> None:
    assert paye["tax_code"].map(lambda c: bool(re.fullmatch(r"\d{3,4}L|0T|BR|D0|K\d{2,3}", c))).all()
    taxable = (paye["gross_pay"] - paye["pension_contributions"] + paye["benefits_in_kind"]).round(2)
    flat = {"BR": 0.2, "D0": 0.4}
    for code, rate in flat.items():
        on_code = paye["tax_code"] == code
        assert on_code.any() and np.allclose(
            paye.loc[on_code, "tax_paid"], (rate * taxable[on_code]).round(2), atol=0.011
        )
    standard = paye["tax_code"] == "1257L"
    below = standard & (taxable <= 12_570 / 12)
    assert (paye.loc[below, "tax_paid"] == 0).all() and below.any()
    assert paye["tax_code"].value_counts(normalize=True)["1257L"] > 0.75
    assert (paye["tax_paid"] <= paye["gross_pay"]).all()


def test_national_insurance_follows_the_category(paye: pd.DataFrame) -> None:
    assert set(paye["ni_category"]) <= set("ABCHJMZ") and paye["ni_category"].value_counts().index[0] == "A"
    earnings = paye["gross_pay"] - paye["occupational_pension"]
    pensioners = paye["ni_category"] == "C"
    assert pensioners.any() and (paye.loc[pensioners, "employee_ni"] == 0).all()
    standard = paye["ni_category"] == "A"
    employer = (0.138 * (earnings - 758).clip(lower=0)).round(2)
    assert np.allclose(paye.loc[standard, "employer_ni"], employer[standard], atol=0.011)
    employee = (
        0.08 * (earnings.clip(upper=4_189) - 1_048).clip(lower=0) + 0.02 * (earnings - 4_189).clip(lower=0)
    ).round(2)
    assert np.allclose(paye.loc[standard, "employee_ni"], employee[standard], atol=0.011)
    relieved = paye["ni_category"].isin(["H", "M", "Z"]) & (earnings <= 4_189)
    assert relieved.any() and (paye.loc[relieved, "employer_ni"] == 0).all()


def test_deductions_and_benefits_are_plausible(paye: pd.DataFrame) -> None:
    loan = paye["student_loan_deduction"]
    assert (loan == loan.round(0)).all() and 0.03 < (loan > 0).mean() < 0.3
    assert (paye["occupational_pension"] <= paye["gross_pay"]).all() and (paye["occupational_pension"] > 0).any()
    assert 0.5 < (paye["pension_contributions"] > 0).mean() < 0.9
    assert 0 < (paye["benefits_in_kind"] > 0).mean() < 0.05
    bands = paye.groupby("hours_worked_band")["gross_pay"].median()
    assert bands["Up to 15.99"] < bands["16 to 23.99"] < bands["24 to 29.99"] < bands["30 or more"]
    assert paye["pay_frequency"].value_counts().index[0] == "Monthly"
    assert set(paye["pay_frequency"]) == {"Monthly", "Weekly", "Four-weekly", "Fortnightly"}


def test_payment_dates_fall_in_their_tax_month_on_weekdays(paye: pd.DataFrame) -> None:
    starts = {m: dt.date(2024 + (m + 2) // 12, (m + 2) % 12 + 1, 6) for m in range(1, 13)}
    start = paye["tax_month"].map(starts)
    end = paye["tax_month"].map(lambda m: starts[m + 1] if m < 12 else dt.date(2025, 4, 6))
    assert ((paye["payment_date"] >= start) & (paye["payment_date"] < end)).all()
    assert (pd.to_datetime(paye["payment_date"]).dt.day_of_week < 5).all()


def test_submissions_look_like_rti(paye: pd.DataFrame) -> None:
    ids = paye["submission_id"]
    assert ids.str.fullmatch(r"[0-9a-f]{20}").all() and ids.is_unique
    lead = pd.to_datetime(paye["payment_date"]) - paye["received_at"].dt.normalize()
    assert lead.between(pd.Timedelta(days=-14), pd.Timedelta(days=7)).all()
    assert (lead >= pd.Timedelta(0)).mean() > 0.9  # most FPSs arrive on or before pay day
    # One submission time per employer payroll and month.
    assert paye.groupby(["employer_id", "tax_month", "pay_frequency"])["received_at"].nunique().max() == 1
