from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from trust.demo import generate as g
from trust.demo import reference as ref


@pytest.fixture(scope="module")
def uc(demo: g.DemoData) -> pd.DataFrame:
    return pa.concat_tables(pq.read_table(p) for p in demo["dwp.uc_claims"].paths).to_pandas()


@pytest.fixture(scope="module")
def paye(demo: g.DemoData) -> pd.DataFrame:
    paths = demo["hmrc.paye_employments"].paths
    return pa.concat_tables(pq.read_table(p, columns=["person_id", "tax_month"]) for p in paths).to_pandas()


COMPONENTS = ["standard_allowance", "housing_element", "child_element", "lcwra_element", "carer_element"]
DEDUCTIONS = ["earnings_deduction", "sanction_deduction", "advance_repayment"]


def test_award_is_its_parts_to_the_penny(uc: pd.DataFrame) -> None:
    parts = uc[[*COMPONENTS, "childcare_element"]].sum(axis=1) - uc[DEDUCTIONS].sum(axis=1)
    assert (parts - uc["award_amount"]).abs().max() < 0.006
    assert (uc["award_amount"] >= 5).all() and (uc[DEDUCTIONS] >= 0).all().all()
    for column in [*COMPONENTS, "childcare_element", *DEDUCTIONS, "award_amount"]:
        assert (uc[column].round(2) == uc[column]).all(), column


def test_elements_follow_circumstances(uc: pd.DataFrame) -> None:
    couple = uc["household_type"].str.startswith("Couple")
    with_children = uc["household_type"].str.endswith("with children")
    assert ((uc["number_of_children"] > 0) == with_children).all()
    assert ((uc["child_element"] > 0) == with_children).all()
    assert set(uc.loc[couple, "marital_status"]) <= {"Married", "Cohabiting", "Civil partnership"}
    assert not set(uc.loc[~couple, "marital_status"]) & {"Married", "Cohabiting", "Civil partnership"}
    under_25 = uc["age_band"] == "16-24"
    for (is_couple, is_25), amount in ref.UC_STANDARD_ALLOWANCE.items():
        rows = uc[(couple == is_couple) & (under_25 != is_25)]
        assert len(rows) and (rows["standard_allowance"] == amount).all(), (is_couple, is_25)
    pays_rent = uc["tenure"].isin(["Social rented", "Private rented"])
    assert ((uc["housing_element"] > 0) == pays_rent).all()
    bands = [lo for _, lo in ref.UC_HOUSING_COST_BANDS]
    expected = uc["housing_element"].map(lambda h: ref.UC_HOUSING_COST_BANDS[sum(h >= lo for lo in bands) - 1][0])
    assert (uc["housing_cost_band"] == expected).all()
    assert set(uc["lcwra_element"]) == {0.0, ref.UC_LCWRA} and set(uc["carer_element"]) == {0.0, ref.UC_CARER}
    lcwra = uc["lcwra_element"] > 0
    assert not (lcwra & (uc["carer_element"] > 0)).any()  # never both for one claimant
    assert uc.loc[lcwra, "disability_flag"].all()
    assert uc.loc[lcwra, "conditionality_regime"].value_counts().index[0] == "No Work Requirements"
    working = uc["employment_status"] == "In employment"
    assert (uc.loc[uc["childcare_element"] > 0, "number_of_children"] > 0).all()
    assert working[uc["childcare_element"] > 0].all() and working[uc["earnings_deduction"] > 0].all()
    assert (uc.loc[uc["sanction_deduction"] > 0, "conditionality_regime"] != "Working - No Requirements").all()


def test_employment_status_is_the_latest_rti_month(uc: pd.DataFrame, paye: pd.DataFrame) -> None:
    earning = set(paye.loc[paye["tax_month"] == 12, "person_id"])
    working = set(uc.loc[uc["employment_status"] == "In employment", "person_id"])
    assert working == earning & set(uc["person_id"])
    assert 0.3 < len(working) / len(uc) < 0.5


def test_assessment_period_and_last_update_are_current(uc: pd.DataFrame) -> None:
    extract = dt.date(2025, 4, 5)
    period, start = uc["assessment_period_start"], uc["claim_start"]
    assert (period <= extract).all() and (period >= start).all()
    assert (period > extract - dt.timedelta(days=31)).all()
    # Periods run monthly from the claim's day of the month (month end for the 29th to 31st).
    same_day = period.map(lambda d: d.day) == start.map(lambda d: d.day)
    assert (same_day | (start.map(lambda d: d.day) > 28) | (period == start)).all()
    updated = uc["last_updated"]
    assert (updated.dt.date >= period).all() and (updated.dt.date <= extract).all()
    assert ((updated.dt.hour >= 1) & (updated.dt.hour < 4)).mean() > 0.5  # the overnight batch


def test_postcode_district_and_office_belong_to_the_authority(uc: pd.DataFrame) -> None:
    for la, rows in uc.groupby("la_code"):
        districts, offices = ref.LOCAL_OFFICES[la]
        assert set(rows["postcode_district"]) <= set(districts), la
        assert set(rows["work_coach_office"]) <= {f"Jobcentre Plus {o}" for o in offices}, la
        # One office serves each district.
        assert rows.groupby("postcode_district")["work_coach_office"].nunique().max() == 1, la
    manchester = uc[uc["la_code"] == "E08000003"]["postcode_district"].value_counts()
    assert manchester.index[0] == "M14" and manchester.iloc[0] > 2 * manchester.iloc[-1]  # skewed


def test_distributions_are_skewed_like_the_caseload(uc: pd.DataFrame) -> None:
    shares = lambda column: uc[column].value_counts(normalize=True)  # noqa: E731
    assert shares("household_type").index[0] == "Single, no children"
    assert shares("journey_channel")["Online"] > 0.8
    assert shares("nationality_group")["UK national"] > 0.7
    assert 0.9 < shares("payment_frequency")["Monthly"] < 1
    housing = uc.loc[uc["housing_element"] > 0, "housing_element"]
    assert housing.mean() > housing.median()  # a long right tail
    london = uc[uc["region"] == "E12000007"]["housing_element"].median()
    north_east = uc[uc["region"] == "E12000001"]["housing_element"].median()
    assert london > 1.3 * north_east
    assert uc["number_of_children"].dtype == "int8" and uc["number_of_children"].max() <= 6


@pytest.mark.parametrize("seed", range(40))
def test_corner_claimants_never_opt_out_whatever_the_seed(seed: int) -> None:
    from trust.demo import dwp
    from trust.demo.people import people

    pop = people(0.005, seed)
    claimants = dwp.claimants(pop, seed)
    nobody = np.zeros(len(pop.numbers))
    table = pa.concat_tables(dwp.uc_claims(pop, claimants, np.array([], dtype=int), nobody > 0, nobody, seed, 2))
    corners = table.filter(pc.is_in(table["la_code"], pa.array(list(g.SMALL_AREA_CLAIMANTS))))
    assert corners.num_rows == sum(g.SMALL_AREA_CLAIMANTS.values())
    assert not pc.any(corners["opted_out"]).as_py()
    multi = table.filter(pc.equal(table["person_id"], g.MULTI_JOB_PERSON_ID))
    assert multi["opted_out"].to_pylist() == [False]
