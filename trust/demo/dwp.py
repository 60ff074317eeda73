"""DWP's Universal Credit claims and PIP awards (``dwp.uc_claims``, ``dwp.pip_awards``).

The UC extract is a snapshot at ``EXTRACT_DATE``, the end of tax year 2024-25: each claimant's
circumstances and their award for the assessment period then running, at 2024/25 rates.
The award is its parts: standard allowance plus elements, less deductions, to the penny.
Claimants "in employment" are exactly those with PAYE earnings in tax month 12, and the
earnings deduction tapers their take-home pay from those records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trust.demo import arrays
from trust.demo import reference as ref
from trust.demo.corners import MULTI_JOB_PERSON
from trust.demo.people import (
    FIXED_CLAIMANTS,
    LA_CODES,
    LA_REGIONS,
    People,
    age_band_index,
    completed_age,
    members,
    person_uniform,
    place_order,
    places,
    sorted_by_place,
)

EXTRACT_DATE = np.datetime64("2025-04-05")
LATEST_TAX_MONTH = 12  # the RTI month that ends on the extract date

_S, _D, _F, _B = pa.string(), pa.date32(), pa.float64(), pa.bool_()
SCHEMAS: dict[str, pa.Schema] = {
    "dwp.uc_claims": pa.schema(
        [
            ("person_id", _S),
            ("nino", _S),
            ("date_of_birth", _D),
            ("sex", _S),
            ("age_band", _S),
            ("la_code", _S),
            ("region", _S),
            ("claim_start", _D),
            ("conditionality_regime", _S),
            ("award_amount", _F),
            ("opted_out", _B),
            ("postcode_district", _S),
            ("work_coach_office", _S),
            ("household_type", _S),
            ("number_of_children", pa.int8()),
            ("marital_status", _S),
            ("nationality_group", _S),
            ("disability_flag", _B),
            ("tenure", _S),
            ("employment_status", _S),
            ("journey_channel", _S),
            ("payment_frequency", _S),
            ("assessment_period_start", _D),
            ("standard_allowance", _F),
            ("housing_element", _F),
            ("housing_cost_band", _S),
            ("child_element", _F),
            ("lcwra_element", _F),
            ("carer_element", _F),
            ("childcare_element", _F),
            ("earnings_deduction", _F),
            ("sanction_deduction", _F),
            ("advance_repayment", _F),
            ("last_updated", pa.timestamp("us")),
        ]
    ),
    "dwp.pip_awards": pa.schema(
        [
            ("person_id", _S),
            ("nino", _S),
            ("la_code", _S),
            ("region", _S),
            ("health_condition_group", _S),
            ("daily_living_award", _S),
            ("mobility_award", _S),
            ("award_start", _D),
            ("weekly_amount", _F),
        ]
    ),
}

# By conditionality regime, in reference.CONDITIONALITY_REGIMES order.
_WORKING_REGIME = 2
_LCWRA_BY_REGIME = np.array([0.0, 0.01, 0.02, 0.55, 0.0, 0.05])
_CARER_BY_REGIME = np.array([0.01, 0.02, 0.03, 0.14, 0.02, 0.02])
_SANCTION_BY_REGIME = np.array([0.05, 0.01, 0.0, 0.0, 0.005, 0.01])
_LONDON = "E12000007"


@dataclass(frozen=True)
class Claimants:
    """What other departments' records depend on, in "uc" pool order."""

    rows: np.ndarray  # rows in People
    claim_start: np.ndarray
    regime: np.ndarray  # index into reference.CONDITIONALITY_REGIMES
    lcwra: np.ndarray  # limited capability for work and work-related activity


def claimants(pop: People, seed: int) -> Claimants:
    rows = pop.pools["uc"]
    n, gen = len(rows), arrays.rng(seed, 1)
    dob = pop.dob[rows]
    covid = gen.random(n) < 0.2
    start = np.where(
        covid,
        arrays.dates("2020-03-16", "2020-06-30", gen.random(n)),
        arrays.dates("2019-01-01", "2025-03-31", gen.random(n)),
    )
    start = np.maximum(start, dob + 5845)  # no claim before the 16th birthday (still before the extract)
    regime = arrays.choice(gen, [w for _, w in ref.CONDITIONALITY_REGIMES], n)
    regime[rows == MULTI_JOB_PERSON] = _WORKING_REGIME
    age = completed_age(dob)
    lcwra = gen.random(n) < _LCWRA_BY_REGIME[regime] * np.select([age < 25, age >= 55], [0.5, 1.4], 1.0)
    return Claimants(rows, start, regime, lcwra)


def uc_claims(
    pop: People, cl: Claimants, pip_rows: np.ndarray, employed: np.ndarray, net: np.ndarray, seed: int, parts: int
) -> Iterator[pa.Table]:
    """One table per file, claimants in (la_code, person_id) order; each part has its own
    generator, so only one part is ever in memory. ``employed`` and ``net`` (take-home pay)
    are per People row."""
    order = place_order(pop, cl.rows)
    size = -(-len(order) // parts)
    for part in range(parts):
        yield _uc_part(pop, cl, order[part * size : (part + 1) * size], pip_rows, employed, net, seed, part)


def _uc_part(
    pop: People,
    cl: Claimants,
    pick: np.ndarray,
    pip_rows: np.ndarray,
    employed: np.ndarray,
    net: np.ndarray,
    seed: int,
    part: int,
) -> pa.Table:
    rows, regime, lcwra, claim_start = cl.rows[pick], cl.regime[pick], cl.lcwra[pick], cl.claim_start[pick]
    n, gen = len(rows), arrays.rng(seed, 1, 1 + part)
    dob, female, la = pop.dob[rows], pop.female[rows], pop.la[rows]
    age = completed_age(dob)
    # Household: lone parents are mostly women; few of the oldest have children at home.
    couple = gen.random(n) < np.where(age < 25, 0.08, 0.17)
    with_children_rate = np.where(couple, 0.65, np.where(female, 0.36, 0.05)) * np.select(
        [age < 20, age >= 55], [0.4, 0.15], 1.0
    )
    children = gen.random(n) < with_children_rate
    household = 2 * couple + children
    n_children = np.where(children, 1 + arrays.choice(gen, [0.40, 0.33, 0.15, 0.07, 0.03, 0.02], n), 0).astype(np.int8)
    young = age < 35
    single_status = np.where(
        young, arrays.choice(gen, [0.90, 0.03, 0.06, 0.01], n), arrays.choice(gen, [0.50, 0.28, 0.14, 0.08], n)
    )
    couple_status = 4 + np.where(
        young, arrays.choice(gen, [0.25, 0.73, 0.02], n), arrays.choice(gen, [0.60, 0.35, 0.05], n)
    )
    marital = np.where(couple, couple_status, single_status)
    london = LA_REGIONS[la] == _LONDON
    nationality = np.where(london, arrays.choice(gen, [0.55, 0.17, 0.28], n), arrays.choice(gen, [0.84, 0.08, 0.08], n))
    disabled = lcwra | np.isin(rows, pip_rows) | (gen.random(n) < 0.06)
    tenure = np.where(
        age < 25, arrays.choice(gen, [0.25, 0.30, 0.03, 0.42], n), arrays.choice(gen, [0.45, 0.38, 0.07, 0.10], n)
    )
    # Award: 2024/25 amounts; housing costs follow regional rents and household size.
    standard = np.select(
        [~couple & (age < 25), ~couple, age < 25],
        [
            ref.UC_STANDARD_ALLOWANCE[False, False],
            ref.UC_STANDARD_ALLOWANCE[False, True],
            ref.UC_STANDARD_ALLOWANCE[True, False],
        ],
        ref.UC_STANDARD_ALLOWANCE[True, True],
    )
    social_rent, private_rent = (np.array([ref.REGIONAL_RENTS[r][i] for r in LA_REGIONS]) for i in (0, 1))
    household_size = 1 + 0.12 * np.minimum(n_children, 3) + 0.08 * couple
    housing = np.round(
        np.select(
            [tenure == 0, tenure == 1],
            [
                social_rent[la] * household_size * gen.lognormal(0, 0.22, n),
                private_rent[la] * household_size * gen.lognormal(0, 0.30, n),
            ],
            0.0,
        ),
        2,
    )
    housing_band = np.searchsorted([lo for _, lo in ref.UC_HOUSING_COST_BANDS], housing, side="right") - 1
    first_child = np.where((age >= 26) & (gen.random(n) < 0.6), ref.UC_CHILD_FIRST_PRE_2017, ref.UC_CHILD)
    counted = np.where(gen.random(n) < 0.35, n_children, np.minimum(n_children, 2))  # two-child limit exceptions
    child = np.round(np.where(n_children > 0, first_child + ref.UC_CHILD * (counted - 1), 0.0), 2)
    lcwra_element = np.where(lcwra, ref.UC_LCWRA, 0.0)
    carer = np.where(~lcwra & (gen.random(n) < _CARER_BY_REGIME[regime]), ref.UC_CARER, 0.0)
    in_work = employed[rows]
    cap = np.where(n_children >= 2, ref.UC_CHILDCARE_CAP[1], ref.UC_CHILDCARE_CAP[0])
    childcare_cost = gen.lognormal(np.log(700), 0.5, n)
    childcare = np.where(
        in_work & (n_children > 0) & (gen.random(n) < 0.15),
        np.round(np.minimum(ref.UC_CHILDCARE_SHARE * childcare_cost, cap), 2),
        0.0,
    )
    entitlement = standard + housing + child + lcwra_element + carer + childcare
    # Deductions never take the award below a small residual, so every claimant is paid something.
    work_allowance = np.where(
        (n_children > 0) | lcwra, np.where(housing > 0, ref.UC_WORK_ALLOWANCE[0], ref.UC_WORK_ALLOWANCE[1]), 0.0
    )
    residual = gen.uniform(5, 60, n)
    taper = ref.UC_TAPER * np.maximum(net[rows] - work_allowance, 0.0)
    deductible = np.maximum(entitlement - residual, 0.0)
    earnings = _pence(np.minimum(taper, deductible))
    left = deductible - earnings
    sanction_raw = np.where(gen.random(n) < _SANCTION_BY_REGIME[regime], standard * gen.uniform(0.2, 1.0, n), 0.0)
    sanction = _pence(np.minimum(sanction_raw, left))
    left = left - sanction
    recent = claim_start >= EXTRACT_DATE - 730  # advances are repaid over 24 months
    advance_raw = np.where(
        gen.random(n) < np.where(recent, 0.55, 0.04), np.clip(gen.lognormal(np.log(650), 0.5, n), 100, 2_500) / 24, 0.0
    )
    advance = _pence(np.minimum(np.minimum(advance_raw, ref.UC_ADVANCE_DEDUCTION_CAP * standard), left))
    award = np.round(entitlement - earnings - sanction - advance, 2)
    opted_out = gen.random(n) < 0.02
    opted_out[rows < FIXED_CLAIMANTS] = False  # the disclosive corners must survive the opt-out filter
    period = _assessment_period_start(claim_start)
    postcode, office = _local(la, person_uniform(pop.numbers[rows], seed, 5))
    columns = {
        "person_id": arrays.fixed(pop.pid[rows]),
        "nino": arrays.fixed(pop.nino[rows]),
        "date_of_birth": dob,
        "sex": np.where(female, "F", "M"),
        "age_band": arrays.labels([b for b, _ in ref.AGE_BANDS], age_band_index(dob)),
        **places(la),
        "claim_start": claim_start,
        "conditionality_regime": arrays.labels([r for r, _ in ref.CONDITIONALITY_REGIMES], regime),
        "award_amount": award,
        "opted_out": opted_out,
        "postcode_district": postcode,
        "work_coach_office": office,
        "household_type": arrays.labels(ref.UC_HOUSEHOLD_TYPES, household),
        "number_of_children": n_children,
        "marital_status": arrays.labels(ref.MARITAL_STATUSES, marital),
        "nationality_group": arrays.labels(ref.NATIONALITY_GROUPS, nationality),
        "disability_flag": disabled,
        "tenure": arrays.labels(ref.UC_TENURES, tenure),
        "employment_status": arrays.labels(ref.UC_EMPLOYMENT_STATUSES, (~in_work).astype(int)),
        "journey_channel": arrays.labels(
            ref.UC_JOURNEY_CHANNELS,
            np.where(age >= 55, arrays.choice(gen, [0.74, 0.16, 0.10], n), arrays.choice(gen, [0.90, 0.07, 0.03], n)),
        ),
        "payment_frequency": arrays.labels(ref.UC_PAYMENT_FREQUENCIES, (gen.random(n) < 0.04).astype(int)),
        "assessment_period_start": period,
        "standard_allowance": standard,
        "housing_element": housing,
        "housing_cost_band": arrays.labels([b for b, _ in ref.UC_HOUSING_COST_BANDS], housing_band),
        "child_element": child,
        "lcwra_element": lcwra_element,
        "carer_element": carer,
        "childcare_element": childcare,
        "earnings_deduction": earnings,
        "sanction_deduction": sanction,
        "advance_repayment": advance,
        "last_updated": _last_updated(gen, period),
    }
    return arrays.table(SCHEMAS["dwp.uc_claims"], columns)


def _pence(x: np.ndarray) -> np.ndarray:
    # Rounded down, so a capped deduction never takes the award below zero.
    return np.floor(np.round(x * 100, 6)) / 100


def _assessment_period_start(claim_start: np.ndarray) -> np.ndarray:
    """The assessment period running at the extract: monthly from the claim's day of the month
    (the last day of a shorter month for claims made on the 29th to 31st)."""
    day = (claim_start - claim_start.astype("datetime64[M]")).astype(int)  # 0-based
    month = EXTRACT_DATE.astype("datetime64[M]")

    def in_month(m: np.datetime64) -> np.ndarray:
        length = ((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(int)
        return m.astype("datetime64[D]") + np.minimum(day, length - 1)

    this = in_month(month)
    return np.maximum(np.where(this <= EXTRACT_DATE, this, in_month(month - 1)), claim_start)


def _last_updated(gen: np.random.Generator, period: np.ndarray) -> np.ndarray:
    """A day in the current assessment period; mostly the overnight batch, else office hours."""
    n = len(period)
    day = period + (gen.random(n) * ((EXTRACT_DATE - period).astype(int) + 1)).astype(int)
    batch = gen.random(n) < 0.7
    seconds = np.where(batch, gen.uniform(1, 4, n), 8 + 10 * gen.beta(2, 2, n)) * 3600
    return arrays.timestamps(day, seconds)


def _local(la: np.ndarray, u: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """A postcode district in each claimant's authority (the first listed most often), and the
    Jobcentre Plus office that serves it."""
    keys: list[float] = []
    districts: list[str] = []
    offices: list[str] = []
    for i, code in enumerate(LA_CODES):
        names, jobcentres = ref.LOCAL_OFFICES[code]
        cum = np.cumsum(1 / np.arange(1, len(names) + 1) ** 0.6)
        cum /= cum[-1]
        cum[-1] = 1.0  # exactly, so a draw never spills into the next authority
        keys.extend(i + cum)
        districts.extend(names)
        offices.extend(f"Jobcentre Plus {jobcentres[j * len(jobcentres) // len(names)]}" for j in range(len(names)))
    index = np.searchsorted(np.array(keys), la + u, side="right")
    return arrays.labels(districts, index), arrays.labels(offices, index)


def pip_awards(pop: People, cl: Claimants, seed: int) -> tuple[pa.Table, np.ndarray]:
    """PIP awards, and the People rows holding one. Claimants assessed as LCWRA are likelier to."""
    gen = arrays.rng(seed, 2)
    rows = sorted_by_place(pop, members(pop, gen, {"uc": np.where(cl.lcwra, 0.70, 0.20), "employed": 0.12, "pip": 1.0}))
    n = len(rows)
    condition = arrays.choice(gen, [w for _, w in ref.PIP_CONDITION_GROUPS], n)
    levels = list(ref.PIP_DAILY_LIVING_RATES)
    daily = arrays.choice(gen, [0.10, 0.40, 0.50], n)
    mobility = arrays.choice(gen, [0.30, 0.35, 0.35], n)
    daily[(daily == 0) & (mobility == 0)] = 1  # an award has at least one component
    weekly = (
        np.array(list(ref.PIP_DAILY_LIVING_RATES.values()))[daily]
        + np.array(list(ref.PIP_MOBILITY_RATES.values()))[mobility]
    )
    columns = {
        "person_id": arrays.fixed(pop.pid[rows]),
        "nino": arrays.fixed(pop.nino[rows]),
        **places(pop.la[rows]),
        "health_condition_group": arrays.labels([g for g, _ in ref.PIP_CONDITION_GROUPS], condition),
        "daily_living_award": arrays.labels(levels, daily),
        "mobility_award": arrays.labels(levels, mobility),
        "award_start": arrays.dates("2019-06-01", "2025-03-31", gen.random(n)),
        "weekly_amount": np.round(weekly, 2),
    }
    return arrays.table(SCHEMAS["dwp.pip_awards"], columns), rows
