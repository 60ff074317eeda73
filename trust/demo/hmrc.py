"""HMRC's PAYE Real Time Information (``hmrc.paye_employments``): one row per person,
employer and tax month of 2024-25, as an employer's Full Payment Submissions report them.

Employments (``Spells``) are drawn once; each tax month is then built from them, so pay,
tax, NICs and the year-to-date figures agree with each other and with the tax code and NI
category of the employment. Within a month rows run by employer then person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trust.demo import arrays, payroll
from trust.demo import reference as ref
from trust.demo.corners import CORNER_BUSINESSES, CORNER_EMPLOYMENTS, MULTI_JOB_EMPLOYERS, MULTI_JOB_PERSON
from trust.demo.desnz import Businesses
from trust.demo.people import People, completed_age, keyed_uniform, person_uniform

_S, _D, _F, _B = pa.string(), pa.date32(), pa.float64(), pa.bool_()
SCHEMAS: dict[str, pa.Schema] = {
    "hmrc.paye_employments": pa.schema(
        [
            ("person_id", _S),
            ("employer_id", _S),
            ("tax_year", _S),
            ("tax_month", pa.int16()),
            ("gross_pay", _F),
            ("tax_paid", _F),
            ("payment_date", _D),
            ("pay_frequency", _S),
            ("taxable_pay_to_date", _F),
            ("tax_paid_to_date", _F),
            ("tax_code", _S),
            ("ni_category", _S),
            ("employee_ni", _F),
            ("employer_ni", _F),
            ("student_loan_deduction", _F),
            ("pension_contributions", _F),
            ("occupational_pension", _F),
            ("benefits_in_kind", _F),
            ("hours_worked_band", _S),
            ("irregular_payment", _B),
            ("starter_flag", _B),
            ("leaver_flag", _B),
            ("payroll_id_changed", _B),
            ("submission_id", _S),
            ("received_at", pa.timestamp("us")),
        ]
    ),
}

PAY_FREQUENCIES = ("Monthly", "Weekly", "Four-weekly", "Fortnightly")
_WEEKS_BETWEEN_PAYDAYS = np.array([0, 1, 4, 2])
HOURS_BANDS: tuple[tuple[str, float], ...] = (
    ("Up to 15.99", 0.0),
    ("16 to 23.99", 16.0),
    ("24 to 29.99", 24.0),
    ("30 or more", 30.0),
)
_TAX_YEAR_START = np.datetime64("2024-04-06")
_EMPLOYMENT_BY_REGIME = np.array([0.55, 0.95, 0.98, 0.45, 0.30, 0.40])
_FULL_YEAR_BY_REGIME = np.array([0.35, 0.55, 0.85, 0.30, 0.30, 0.30])  # claimants' jobs churn
_SIZE_PAY = np.array([0.9, 0.95, 1.0, 1.08])
_PUBLIC_SECTIONS = np.array([s[1] in "OPQ" for s in ref.SIC_CODES])
# Monthly pay days: last working day, or a fixed day of the month (weekends move to Friday).
_PAY_DAYS = np.array([0, 25, 28, 15, 20, 1])
_PAY_DAY_WEIGHTS = [0.35, 0.20, 0.15, 0.10, 0.10, 0.10]


@dataclass(frozen=True)
class Spells:
    """Employments: person (row in People), employer (row in Businesses), months, pay and
    the payroll attributes that stay fixed for the employment."""

    person: np.ndarray
    employer: np.ndarray
    first: np.ndarray
    last: np.ndarray
    pay: np.ndarray
    second_job: np.ndarray
    fixed: np.ndarray  # corner employments: no random variation month to month
    frequency: np.ndarray  # index into PAY_FREQUENCIES
    tax_kind: np.ndarray  # payroll.TAX_*
    tax_number: np.ndarray
    ni_category: np.ndarray  # index into payroll.NI_CATEGORIES
    loan_plan: np.ndarray  # index into payroll.STUDENT_LOAN_PLANS
    pension_rate: np.ndarray
    pension_whole_pay: np.ndarray
    benefits_in_kind: np.ndarray  # monthly cash equivalent, payrolled
    occupational_share: np.ndarray  # share of gross pay that is an occupational pension
    hours_band: np.ndarray  # index into HOURS_BANDS
    irregular: np.ndarray
    id_change_month: np.ndarray  # 0: the payroll id never changes

    def __len__(self) -> int:
        return len(self.person)


def spells(pop: People, biz: Businesses, regime: np.ndarray, seed: int) -> Spells:
    """Everyone's employments in 2024-25; ``regime`` is each UC claimant's, in pool order."""
    gen = arrays.rng(seed, 3)
    uc = pop.pools["uc"]
    in_work = (gen.random(len(uc)) < _EMPLOYMENT_BY_REGIME[regime]) & (uc != MULTI_JOB_PERSON)
    employed_uc = uc[in_work]
    others = pop.pools["employed"]
    primary = np.concatenate([employed_uc, others])
    is_uc = np.arange(len(primary)) < len(employed_uc)
    full_year_rate = np.concatenate([_FULL_YEAR_BY_REGIME[regime[in_work]], np.full(len(others), 0.88)])
    second = gen.random(len(primary)) < np.where(is_uc, 0.08, 0.07)
    person = np.concatenate([primary, primary[second]])
    uc_job = np.concatenate([is_uc, is_uc[second]])
    second_job = np.arange(len(person)) >= len(primary)
    n = len(person)
    full_year = gen.random(n) < np.concatenate([full_year_rate, full_year_rate[second]])
    first = np.where(full_year, 1, gen.integers(1, 13, n))
    last = np.where(full_year, 12, first + (gen.random(n) * (13 - first)).astype(int))
    median = np.array([s[6] for s in ref.SIC_CODES])
    affinity = np.array([s[7] for s in ref.SIC_CODES])
    weight = np.where(biz.corner, 0.0, biz.employees.astype(np.float64))
    employer = np.where(uc_job, arrays.choice(gen, weight * affinity[biz.sic], n), arrays.choice(gen, weight, n))
    pay = median[biz.sic[employer]] * _SIZE_PAY[biz.size[employer]] * gen.lognormal(0, 0.35, n)
    pay *= np.where(uc_job, gen.lognormal(np.log(0.5), 0.3, n), 1.0)  # claimants work fewer hours
    pay *= np.where(second_job, 0.35, 1.0)
    pay *= np.where(~uc_job & (gen.random(n) < 0.004), gen.lognormal(1.8, 0.5, n), 1.0)
    # A second job with the same employer would repeat a person-employer-month row: drop it.
    keep = np.flatnonzero(
        np.concatenate([np.ones(len(primary), bool), employer[len(primary) :] != employer[: len(primary)][second]])
    )
    person, employer, first, last, pay, second_job = (a[keep] for a in (person, employer, first, last, pay, second_job))
    n = len(keep)
    # The multi-job claimant: several small jobs with different employers, all year.
    multi = gen.choice(np.flatnonzero(weight >= 10), MULTI_JOB_EMPLOYERS, replace=False)
    multi_pay = np.round(gen.uniform(450, 900, MULTI_JOB_EMPLOYERS), 2)
    corner_rows = pop.pools["corner_employed"]
    corner_index = {b[0]: i for i, b in enumerate(CORNER_BUSINESSES)}
    corner_employer = np.flatnonzero(biz.corner)[0] + np.array([corner_index[e] for _, e, _ in CORNER_EMPLOYMENTS])
    k, c = MULTI_JOB_EMPLOYERS, len(corner_rows)
    core = {
        "person": np.concatenate([person, np.full(k, MULTI_JOB_PERSON), corner_rows]),
        "employer": np.concatenate([employer, multi, corner_employer]),
        "first": np.concatenate([first, np.ones(k + c, int)]).astype(np.int8),
        "last": np.concatenate([last, np.full(k + c, 12)]).astype(np.int8),
        "pay": np.concatenate([pay, multi_pay, [g for _, _, g in CORNER_EMPLOYMENTS]]),
        "second_job": np.concatenate([second_job, np.arange(k) > 0, np.zeros(c, bool)]),
        "fixed": np.concatenate([np.zeros(n + k, bool), np.ones(c, bool)]),
    }
    return Spells(**core, **_payroll_attributes(pop, biz, core, seed))


def _payroll_attributes(pop: People, biz: Businesses, core: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    gen = arrays.rng(seed, 3, 1)
    person, employer, pay = core["person"], core["employer"], core["pay"]
    second, fixed = core["second_job"], core["fixed"]
    n = len(person)
    age = completed_age(pop.dob[person], _TAX_YEAR_START)
    sic, size = biz.sic[employer], biz.size[employer]
    # An employer runs one payroll frequency, mostly; low-paid sectors pay weekly more often.
    affinity = np.array([s[7] for s in ref.SIC_CODES])[sic]
    u = keyed_uniform(employer, seed, 10)
    weekly = np.clip(0.04 + 0.06 * affinity, 0, 0.3)
    frequency = np.select([u < weekly, u < weekly + 0.05, u < weekly + 0.10], [1, 2, 3], 0)
    frequency = np.where(gen.random(n) < 0.1, arrays.choice(gen, [0.80, 0.12, 0.04, 0.04], n), frequency)
    frequency[fixed] = 0
    # Tax codes: the emergency or adjusted codes on some main jobs, BR or D0 on second jobs.
    main_pay = np.zeros(len(pop.numbers))
    np.maximum.at(main_pay, person[~second], pay[~second])
    u = gen.random(n)
    kind = np.select([u < 0.03, (u < 0.05) & (pay > 3_000)], [payroll.TAX_0T, payroll.TAX_K], payroll.TAX_L)
    number = np.where(kind == payroll.TAX_K, gen.integers(5, 91, n) * 10 + gen.integers(0, 10, n), 1257)
    adjusted = (kind == payroll.TAX_L) & (u >= 0.05) & (u < 0.11)
    number = np.where(adjusted, np.where(u < 0.09, gen.integers(900, 1257, n), gen.integers(1258, 1330, n)), number)
    second_kind = np.where(main_pay[person] > payroll.UPPER_EARNINGS_LIMIT, payroll.TAX_D0, payroll.TAX_BR)
    second_kind = np.where(gen.random(n) < 0.05, payroll.TAX_0T, second_kind)
    kind = np.where(second, second_kind, kind)
    kind[fixed], number[fixed] = payroll.TAX_L, 1257
    # NI category from age; deferment on some second jobs; apprentices; the rare reduced rate.
    u = gen.random(n)
    category = np.select(
        [
            age >= 66,
            (age < 21) & second & (u < 0.3),
            age < 21,
            (age < 25) & (u < 0.06),
            second & (u < 0.06),
            pop.female[person] & (age >= 60) & (u < 0.002),
        ],
        [payroll.NI_C, payroll.NI_Z, payroll.NI_M, payroll.NI_H, payroll.NI_J, payroll.NI_B],
        payroll.NI_A,
    )
    # A student loan belongs to the person, so every job of theirs repays it.
    numbers = pop.numbers[person]
    loan_rate = np.select([age < 30, age < 40, age < 50], [0.45, 0.30, 0.12], 0.03)
    plan = np.where(age < 31, 2, 1)
    plan = np.where((age < 40) & (person_uniform(numbers, seed, 8) < 0.12), 3, plan)
    plan = np.where(person_uniform(numbers, seed, 7) < loan_rate, plan, 0)
    # Pensions: automatic enrolment (most stay in); public-sector schemes take more, on all pay.
    eligible = (age >= 22) & (age < 66) & (pay >= payroll.ENROLMENT_TRIGGER)
    enrolled = gen.random(n) < np.where(eligible, 0.9, np.where(pay >= payroll.QUALIFYING_LOWER, 0.1, 0.0))
    public = _PUBLIC_SECTIONS[sic] & (size >= 2)
    generous = public | (gen.random(n) < 0.2)
    rate = np.where(public, gen.uniform(0.05, 0.125, n), np.where(generous, gen.uniform(0.04, 0.08, n), 0.05))
    rate = np.where(enrolled, rate, 0.0)
    # Payrolled benefits in kind (cars, medical cover) for some better-paid main jobs.
    has_bik = ~second & ~fixed & (gen.random(n) < np.where(pay > 5_000, 0.24, np.where(pay > 3_000, 0.04, 0.0)))
    bik = np.where(has_bik, np.round(np.minimum(gen.lognormal(np.log(250), 0.7, n), 0.3 * pay), 2), 0.0)
    # Flexible retirement: a pension from the same employer paid alongside reduced hours.
    occupational = ~second & ~fixed & (age >= 60) & (gen.random(n) < np.where(public, 0.2, 0.06))
    occupational_share = np.where(occupational, gen.uniform(0.15, 0.6, n), 0.0)
    # Hours from pay and a plausible hourly rate (never below the 2024-25 minimum wage).
    minimum_wage = np.select([age < 18, age < 21], [6.40, 8.60], 11.44)
    hourly = np.array([s[6] for s in ref.SIC_CODES])[sic] / (37.5 * 4.33) * _SIZE_PAY[size] * gen.lognormal(0, 0.2, n)
    hours = pay * (1 - occupational_share) / (4.33 * np.maximum(hourly, minimum_wage))
    hours_band = np.searchsorted([lo for _, lo in HOURS_BANDS], hours, side="right") - 1
    irregular = ~fixed & (gen.random(n) < np.where(hours < 16, 0.12, 0.02))
    first, last = core["first"], core["last"]
    changes = ~fixed & (last > first) & (gen.random(n) < 0.005)
    change_month = np.where(changes, first + 1 + (gen.random(n) * (last - first)).astype(int), 0)
    small = np.int8  # codes and months: an eighth of the memory at scale 50
    return {
        "frequency": frequency.astype(small),
        "tax_kind": kind.astype(small),
        "tax_number": number.astype(np.int16),
        "ni_category": category.astype(small),
        "loan_plan": plan.astype(small),
        "pension_rate": rate,
        "pension_whole_pay": generous,
        "benefits_in_kind": bik,
        "occupational_share": occupational_share,
        "hours_band": hours_band.astype(small),
        "irregular": irregular,
        "id_change_month": change_month.astype(small),
    }


@dataclass(frozen=True)
class _Month:
    """One tax month's amounts for every spell (zero where the spell is not active)."""

    active: np.ndarray
    gross: np.ndarray
    occupational: np.ndarray
    pension: np.ndarray
    taxable: np.ndarray
    tax: np.ndarray
    employee_ni: np.ndarray
    employer_ni: np.ndarray
    student_loan: np.ndarray

    @property
    def net(self) -> np.ndarray:
        return self.gross - self.tax - self.employee_ni - self.pension - self.student_loan


def _month(sp: Spells, month: int, seed: int) -> _Month:
    # One generator per month, drawing for every spell, so any month can be built alone.
    gen = arrays.rng(seed, 4, month)
    n = len(sp)
    noise = gen.lognormal(0, 0.05, n)
    bonus = np.where((month == 12) & (gen.random(n) < 0.1), gen.uniform(1.5, 3.0, n), 1.0)
    active = (sp.first <= month) & (sp.last >= month)
    gross = np.where(active, np.round(sp.pay * np.where(sp.fixed, 1.0, noise * bonus), 2), 0.0)
    occupational = np.round(gross * sp.occupational_share, 2)
    earnings = gross - occupational  # pensions in payment are not NI-able earnings
    pension = payroll.pension_contribution(earnings, sp.pension_rate, sp.pension_whole_pay)
    taxable = np.round(gross - pension + np.where(active, sp.benefits_in_kind, 0.0), 2)  # net pay arrangement
    return _Month(
        active=active,
        gross=gross,
        occupational=occupational,
        pension=pension,
        taxable=taxable,
        tax=payroll.income_tax(taxable, sp.tax_kind, sp.tax_number),
        employee_ni=payroll.employee_ni(earnings, sp.ni_category),
        employer_ni=payroll.employer_ni(earnings, sp.ni_category),
        student_loan=payroll.student_loan(earnings, sp.loan_plan),
    )


def net_earnings(sp: Spells, people_count: int, month: int, seed: int) -> np.ndarray:
    """Each person's take-home pay over all their jobs in a tax month (0 if not employed)."""
    m = _month(sp, month, seed)
    return np.bincount(sp.person[m.active], weights=m.net[m.active], minlength=people_count)


def employed_in(sp: Spells, people_count: int, month: int) -> np.ndarray:
    """Whether each person has an employment in a tax month."""
    active = (sp.first <= month) & (sp.last >= month)
    return np.bincount(sp.person[active], minlength=people_count) > 0


def _payment_dates(sp: Spells, rows: np.ndarray, month: int, seed: int) -> np.ndarray:
    """The (last) pay day in the tax month, which runs from the 6th to the 5th of the next month."""
    start = np.datetime64("2024-04", "M") + (month - 1)
    this_month, next_month = start.astype("datetime64[D]"), (start + 1).astype("datetime64[D]")
    employer = sp.employer[rows]
    cum = np.cumsum(_PAY_DAY_WEIGHTS) / np.sum(_PAY_DAY_WEIGHTS)
    day = _PAY_DAYS[np.minimum(np.searchsorted(cum, keyed_uniform(employer, seed, 11), side="right"), len(cum) - 1)]
    monthly = np.select([day == 0, day >= 6], [next_month - 1, this_month + day - 1], next_month + day - 1)
    weekday = (monthly.astype(np.int64) + 3) % 7  # Monday 0
    monthly = monthly - np.maximum(weekday - 4, 0)  # weekend pay days move back to Friday
    # Other frequencies pay on a Friday (some on a Thursday), on a phase fixed per employer.
    weeks = np.maximum(_WEEKS_BETWEEN_PAYDAYS[sp.frequency[rows]], 1)
    phase = (keyed_uniform(employer, seed, 12) * weeks).astype(int)
    thursday = keyed_uniform(employer, seed, 13) < 0.15
    anchor = np.datetime64("2024-04-12") - thursday.astype(int) + 7 * phase
    window_end = next_month + 4
    periodic = anchor + ((window_end - anchor).astype(np.int64) // (7 * weeks)) * 7 * weeks
    return np.where(sp.frequency[rows] == 0, monthly, periodic)


def _received_at(sp: Spells, rows: np.ndarray, paid: np.ndarray, month: int, seed: int) -> np.ndarray:
    """When HMRC received the FPS: one submission per employer, payroll and month, mostly a
    day or two before pay day and in office hours; a few arrive late."""
    key = (sp.employer[rows].astype(np.uint64) * np.uint64(64) + np.uint64(month)) * np.uint64(4)
    key += sp.frequency[rows].astype(np.uint64)
    u = keyed_uniform(key, seed, 14)
    days_early = np.select(
        [u < 0.03, u < 0.33, u < 0.58, u < 0.73, u < 0.85],
        [-1 - (u / 0.03 * 14).astype(int), 0, 1, 2, 3],
        4 + ((u - 0.85) / 0.15 * 4).astype(int),
    )
    t = keyed_uniform(key, seed, 15)
    hour = np.select(
        [t < 0.1, t < 0.8],
        [
            t / 0.1 * 6,
            9 + np.sqrt(np.clip((t - 0.1) / 0.7, 0, 1)) * 9,
        ],  # overnight bureau runs; office hours, busier late
        18 + (t - 0.8) / 0.2 * 5,
    )
    seconds = np.floor(hour * 3600) + keyed_uniform(key, seed, 16)
    return arrays.timestamps(paid - days_early, seconds)


def paye_tables(pop: People, biz: Businesses, sp: Spells, seed: int, chunk_rows: int) -> Iterator[tuple[int, pa.Table]]:
    """(tax month, table) in month order, rows by employer then person, at most chunk_rows a
    table so that scale 50 never holds a whole month of columns."""
    order = np.lexsort((pop.pid[sp.person], biz.employer_id[sp.employer]))
    to_date_taxable = np.zeros(len(sp))
    to_date_tax = np.zeros(len(sp))
    # Label each distinct (kind, number) once rather than a string per employment.
    keys, code_index = np.unique(sp.tax_kind.astype(np.int32) * 10_000 + sp.tax_number, return_inverse=True)
    codes = payroll.tax_code_labels(keys // 10_000, keys % 10_000)
    for month in range(1, 13):
        m = _month(sp, month, seed)
        to_date_taxable += m.taxable
        to_date_tax += m.tax
        in_month = order[m.active[order]]
        ids = arrays.rng(seed, 4, 100 + month)
        for start in range(0, len(in_month), chunk_rows):
            rows = in_month[start : start + chunk_rows]
            paid = _payment_dates(sp, rows, month, seed)
            columns = {
                "person_id": arrays.fixed(pop.pid[sp.person[rows]]),
                "employer_id": arrays.fixed(biz.employer_id[sp.employer[rows]]),
                "tax_year": arrays.labels(["2024-25"], np.zeros(len(rows), np.int8)),
                "tax_month": np.full(len(rows), month, np.int16),
                "gross_pay": m.gross[rows],
                "tax_paid": m.tax[rows],
                "payment_date": paid,
                "pay_frequency": arrays.labels(PAY_FREQUENCIES, sp.frequency[rows]),
                "taxable_pay_to_date": np.round(to_date_taxable[rows], 2),
                "tax_paid_to_date": np.round(to_date_tax[rows], 2),
                "tax_code": arrays.labels(codes.tolist(), code_index[rows]),
                "ni_category": arrays.labels(payroll.NI_CATEGORIES, sp.ni_category[rows]),
                "employee_ni": m.employee_ni[rows],
                "employer_ni": m.employer_ni[rows],
                "student_loan_deduction": m.student_loan[rows],
                "pension_contributions": m.pension[rows],
                "occupational_pension": m.occupational[rows],
                "benefits_in_kind": sp.benefits_in_kind[rows],
                "hours_worked_band": arrays.labels([b for b, _ in HOURS_BANDS], sp.hours_band[rows]),
                "irregular_payment": sp.irregular[rows],
                "starter_flag": (sp.first[rows] == month) & (month > 1),
                "leaver_flag": (sp.last[rows] == month) & (month < 12),
                "payroll_id_changed": sp.id_change_month[rows] == month,
                "submission_id": arrays.hex_ids(ids, len(rows), 10),
                "received_at": _received_at(sp, rows, paid, month, seed),
            }
            yield month, arrays.table(SCHEMAS["hmrc.paye_employments"], columns)
