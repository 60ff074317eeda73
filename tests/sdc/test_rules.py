"""Each primary rule at its boundary, as a pure function of one cell's statistics."""

from __future__ import annotations

import pytest

from trust.policy.decision import Decision
from trust.sdc.cells import CellStats, Kind, Parameters
from trust.sdc.dominance import dominance
from trust.sdc.extremes import extremes
from trust.sdc.min_units import min_units
from trust.sdc.negative import negative
from trust.sdc.p_percent import p_percent
from trust.sdc.primary import UNMEASURED, primary
from trust.sdc.zeros import zeros

P = Parameters()


def test_parameters_come_from_the_policy_decision():
    d = Decision.from_json(
        {
            "allow": True,
            "obligations": {
                "disclosure": {"min_units": 20, "dominance": {"n": 3, "k": 0.8}, "p_percent": 0.15, "rounding_base": 5}
            },
        }
    )
    p = d.disclosure
    assert (p.min_units, p.dominance_n, p.dominance_k, p.p_percent, p.rounding_base) == (20, 3, 0.8, 0.15, 5)
    assert p.zeros_disclosive is True  # not (yet) in the decision: ACRO's default


@pytest.mark.parametrize(("units", "suppressed"), [(9, True), (10, False), (0, True), (None, True), (11, False)])
def test_min_units_boundary(units, suppressed):
    assert (min_units(CellStats("count", units or 0, units), P) is not None) is suppressed


def test_min_units_counts_non_zero_contributors_of_a_sum():
    cell = CellStats("sum", 3, 33, top=(1.0, 1.0, 1.0), total=3.0, contributors=3)
    found = min_units(cell, P)
    assert found.rule == "min_units" and found.figures["contributors"] == 3
    assert min_units(CellStats("sum", 10, 33, contributors=10), P) is None


@pytest.mark.parametrize(
    ("top", "total", "fails"),
    [
        ((60, 30), 100, True),  # exactly 90%
        ((60, 29.99), 100, False),
        ((90.0, 0.0), 100.0, True),
        ((45, 45), 100, True),
        ((0.3, 0.6), 1.0, True),  # 0.3 + 0.6 is 0.8999999999999999 in floating point; exactly 90% here
    ],
)
def test_dominance_boundary(top, total, fails):
    cell = CellStats("sum", total, 12, top=top, total=total)
    assert (dominance(cell, P) is not None) is fails


def test_dominance_takes_n_and_k_from_the_policy():
    cell = CellStats("sum", 100, 12, top=(50, 10, 9), total=100)
    assert dominance(cell, Parameters(dominance_n=1, dominance_k=0.5)) is not None
    assert dominance(cell, Parameters(dominance_n=1, dominance_k=0.51)) is None
    assert dominance(cell, Parameters(dominance_n=3, dominance_k=0.69)) is not None


def test_dominance_without_enough_contributions_goes_to_review():
    found = dominance(CellStats("sum", 100, 12, top=(), total=100), P)
    assert found.status.value == "review"


@pytest.mark.parametrize(
    ("top", "total", "fails"),
    [
        ((1000, 50), 1150, False),  # others 100 = exactly 10% of the largest
        ((1000, 50), 1149, True),  # 9.9%
        ((100,), 100, True),  # one contributor: the others are 0%
    ],
)
def test_p_percent_boundary(top, total, fails):
    cell = CellStats("sum", total, 12, top=top, total=total)
    assert (p_percent(cell, P) is not None) is fails


def test_p_percent_is_implied_by_default_dominance():
    # (total - x1 - x2) < 0.1 x1 <= 0.1 total means x1 + x2 > 0.9 total: dominance fails first.
    cell = CellStats("sum", 1149, 12, top=(1000, 50), total=1149)
    assert primary(cell, P).rule == "dominance"


def test_negative_contribution_sends_to_review_and_only_magnitudes():
    assert negative(CellStats("sum", 10, 12, top=(20,), total=10, negative=True), P).status.value == "review"
    assert negative(CellStats("sum", 10, 12, negative=False), P) is None
    assert negative(CellStats("count", 10, 12, negative=True), P) is None


def test_zero_cells():
    assert zeros(CellStats("count", 0, 0), P).rule == "zero"
    assert zeros(CellStats("sum", 0.0, 20, total=0.0), P).rule == "zero"
    assert zeros(CellStats("sum", 0.0, 20, negative=True), P) is None  # +5 and -5: not a zero of absence
    assert zeros(CellStats("count", 0, 0), Parameters(zeros_disclosive=False)).status.value == "ok"
    assert zeros(CellStats("max", 0, 20), P) is None
    assert zeros(CellStats("count", 4, 4), P) is None


def test_extremes_need_the_value_shared_by_min_units():
    shared = CellStats("max", 500, 40, top=(500,) * 10)
    assert extremes(shared, P) is None
    assert extremes(CellStats("max", 500, 40, top=(500,) * 9 + (499,)), P).rule == "extreme_value"
    assert extremes(CellStats("max", 500, 40, top=(500,) * 10), Parameters(min_units=11)).rule == "extreme_value"
    assert extremes(CellStats("min", 1, 40), P).rule == "extreme_value"  # not computed: suppressed
    assert extremes(CellStats("median", 1, 40), P) is None


def test_primary_order_and_kinds():
    assert CellStats("avg", 1.0, 1).kind is Kind.MAGNITUDE and CellStats("median", 1, 1).kind is Kind.QUANTILE
    # A small cell is suppressed by minimum units even when it is also negative and dominated.
    small = CellStats("sum", 10, 3, top=(100, -90), total=10, negative=True)
    assert primary(small, P).rule == "min_units"
    assert primary(CellStats("sum", 10, 12, top=(20,), total=10, negative=True), P).rule == "negative"
    assert primary(CellStats("median", 7, 9), P).rule == "min_units"
    assert primary(CellStats("median", 7, 10), P).status.value == "ok"


def test_unmeasured_magnitude_goes_to_review_unless_small():
    assert primary(CellStats("sum", 100, 50, measured=False), P).rule == UNMEASURED
    assert primary(CellStats("sum", 100, 5, measured=False), P).rule == "min_units"
