"""2024-25 payroll rules, monthly and vectorised: income tax by tax code, Class 1 NICs,
student loan repayments and pension contributions.

Simplified the way a synthetic extract can afford (every period taxed on a month 1 basis,
no personal allowance taper), but exact enough that amounts agree with each other: tax
follows the tax code, NICs follow the NI category letter, deductions follow the thresholds.

    >>> income_tax(np.array([2000.0]), np.array([TAX_L]), np.array([1257])).tolist()
    [190.5]
"""

from __future__ import annotations

import numpy as np

# Tax code kinds; an L or K code also has a number (1257 for 1257L, 475 for K475).
TAX_L, TAX_0T, TAX_BR, TAX_D0, TAX_K = range(5)
_BASIC_BAND = 37_700 / 12
_HIGHER_BAND = (125_140 - 12_570) / 12

# NI category letters, as RTI reports them.
NI_CATEGORIES = ("A", "B", "C", "H", "J", "M", "Z")
NI_A, NI_B, NI_C, NI_H, NI_J, NI_M, NI_Z = range(7)
PRIMARY_THRESHOLD, UPPER_EARNINGS_LIMIT = 1_048.0, 4_189.0
SECONDARY_THRESHOLD, UPPER_SECONDARY_THRESHOLD = 758.0, 4_189.0  # UST = AUST for apprentices
_EMPLOYEE_MAIN = np.array([0.08, 0.0185, 0.0, 0.08, 0.0, 0.08, 0.0])  # by category
_EMPLOYEE_ADDITIONAL = np.array([0.02, 0.02, 0.0, 0.02, 0.02, 0.02, 0.02])
_EMPLOYER_RATE = 0.138
_EMPLOYER_RELIEF = np.array([False, False, False, True, False, True, True])  # H, M, Z: 0% to UST

# Student loan plans: none, plan 1, plan 2, postgraduate (monthly threshold, rate).
STUDENT_LOAN_PLANS = ("None", "Plan 1", "Plan 2", "Postgraduate")
_LOAN_THRESHOLD = np.array([np.inf, 24_990 / 12, 27_295 / 12, 21_000 / 12])
_LOAN_RATE = np.array([0.0, 0.09, 0.09, 0.06])

# Automatic enrolment: qualifying earnings band and the earnings trigger, monthly.
QUALIFYING_LOWER, QUALIFYING_UPPER, ENROLMENT_TRIGGER = 520.0, 4_189.0, 10_000 / 12


def tax_code_labels(kind: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Tax codes as RTI shows them: '1257L', '0T', 'BR', 'D0', 'K475'."""
    num = number.astype(str)
    return np.select(
        [kind == TAX_L, kind == TAX_0T, kind == TAX_BR, kind == TAX_D0],
        [np.char.add(num, "L"), "0T", "BR", "D0"],
        np.char.add("K", num),
    )


def income_tax(taxable: np.ndarray, kind: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Monthly PAYE on taxable pay under each tax code (rUK bands, month 1 basis)."""
    allowance = np.where(kind == TAX_L, number * 10 / 12, 0.0) - np.where(kind == TAX_K, number * 10 / 12, 0.0)
    above = np.maximum(taxable - allowance, 0.0)
    banded = (
        0.2 * np.minimum(above, _BASIC_BAND)
        + 0.4 * np.clip(above - _BASIC_BAND, 0, _HIGHER_BAND - _BASIC_BAND)
        + 0.45 * np.maximum(above - _HIGHER_BAND, 0)
    )
    banded = np.where(kind == TAX_K, np.minimum(banded, 0.5 * taxable), banded)  # the overriding limit
    tax = np.select([kind == TAX_BR, kind == TAX_D0], [0.2 * taxable, 0.4 * taxable], banded)
    return np.round(np.maximum(tax, 0.0), 2)


def employee_ni(earnings: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Class 1 primary contributions on the period's NI-able earnings."""
    main = np.clip(earnings, PRIMARY_THRESHOLD, UPPER_EARNINGS_LIMIT) - PRIMARY_THRESHOLD
    above = np.maximum(earnings - UPPER_EARNINGS_LIMIT, 0.0)
    deferred = (category == NI_J) | (category == NI_Z)  # deferment: 2% on everything above the PT
    ni = np.where(
        deferred,
        _EMPLOYEE_ADDITIONAL[category] * (main + above),
        _EMPLOYEE_MAIN[category] * main + _EMPLOYEE_ADDITIONAL[category] * above,
    )
    return np.round(np.where(category == NI_C, 0.0, ni), 2)


def employer_ni(earnings: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Class 1 secondary contributions; none below the UST for under-21s and apprentices."""
    threshold = np.where(_EMPLOYER_RELIEF[category], UPPER_SECONDARY_THRESHOLD, SECONDARY_THRESHOLD)
    return np.round(_EMPLOYER_RATE * np.maximum(earnings - threshold, 0.0), 2)


def student_loan(earnings: np.ndarray, plan: np.ndarray) -> np.ndarray:
    """Repayments are rounded down to whole pounds, as payroll software does."""
    return np.floor(_LOAN_RATE[plan] * np.maximum(earnings - _LOAN_THRESHOLD[plan], 0.0))


def pension_contribution(earnings: np.ndarray, rate: np.ndarray, whole_pay: np.ndarray) -> np.ndarray:
    """Employee contributions: on all pay for some schemes, else on qualifying earnings only."""
    qualifying = np.clip(earnings, QUALIFYING_LOWER, QUALIFYING_UPPER) - QUALIFYING_LOWER
    return np.round(rate * np.where(whole_pay, earnings, qualifying), 2)
