from __future__ import annotations

import doctest

import numpy as np
import pytest

from trust.demo import payroll as p


def _one(values: np.ndarray) -> float:
    return float(values[0])


@pytest.mark.parametrize(
    ("taxable", "kind", "number", "tax"),
    [
        (2_000.0, p.TAX_L, 1257, 190.50),  # 20% of pay above 12,570 / 12
        (500.0, p.TAX_L, 1257, 0.0),
        (6_000.0, p.TAX_L, 1257, 628.33 + 0.4 * (6_000 - 1_047.50 - 3_141.67)),
        (1_000.0, p.TAX_0T, 0, 200.0),
        (1_000.0, p.TAX_BR, 0, 200.0),
        (1_000.0, p.TAX_D0, 0, 400.0),
        (2_000.0, p.TAX_K, 475, 479.17),  # K adds 4,750 / 12 to taxable pay
        (100.0, p.TAX_K, 900, 50.0),  # the overriding limit: half the pay
    ],
)
def test_income_tax(taxable: float, kind: int, number: int, tax: float) -> None:
    assert _one(p.income_tax(np.array([taxable]), np.array([kind]), np.array([number]))) == pytest.approx(tax, abs=0.01)


@pytest.mark.parametrize(
    ("earnings", "category", "employee", "employer"),
    [
        (2_000.0, "A", 76.16, 171.40),
        (5_000.0, "A", 267.50, 585.40),
        (5_000.0, "C", 0.0, 585.40),
        (5_000.0, "J", 79.04, 585.40),
        (2_000.0, "M", 76.16, 0.0),
        (5_000.0, "H", 267.50, 111.92),
        (2_000.0, "B", 17.61, 171.40),
        (900.0, "A", 0.0, 19.60),
    ],
)
def test_national_insurance(earnings: float, category: str, employee: float, employer: float) -> None:
    cat = np.array([p.NI_CATEGORIES.index(category)])
    assert _one(p.employee_ni(np.array([earnings]), cat)) == pytest.approx(employee, abs=0.01)
    assert _one(p.employer_ni(np.array([earnings]), cat)) == pytest.approx(employer, abs=0.01)


def test_student_loans_repay_whole_pounds_above_the_plan_threshold() -> None:
    earnings = np.array([3_000.0, 3_000.0, 3_000.0, 3_000.0, 2_000.0])
    plans = np.array([0, 1, 2, 3, 2])
    assert p.student_loan(earnings, plans).tolist() == [0.0, 82.0, 65.0, 75.0, 0.0]


def test_pension_on_qualifying_earnings_or_whole_pay() -> None:
    earnings = np.array([2_000.0, 2_000.0, 5_000.0, 400.0])
    rate = np.array([0.05, 0.1, 0.05, 0.05])
    whole = np.array([False, True, False, False])
    assert p.pension_contribution(earnings, rate, whole).tolist() == [74.0, 200.0, 183.45, 0.0]


def test_tax_code_labels() -> None:
    kinds = np.array([p.TAX_L, p.TAX_0T, p.TAX_BR, p.TAX_D0, p.TAX_K])
    assert p.tax_code_labels(kinds, np.array([1257, 0, 0, 0, 475])).tolist() == ["1257L", "0T", "BR", "D0", "K475"]


def test_docstring_examples_run() -> None:
    assert doctest.testmod(p).failed == 0
