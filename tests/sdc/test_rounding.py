"""Rounding to a base, totals consistent with their parts."""

from __future__ import annotations

from decimal import Decimal

from trust.sdc.linked import Equation
from trust.sdc.rounding import round_to, rounding


def test_half_up_to_the_base_keeping_the_type():
    assert [round_to(v, 5) for v in (12, 12.5, 13, 2, 3)] == [10, 15.0, 15, 0, 5]
    assert round_to(None, 5) is None and round_to(7, 0) == 7


def test_a_total_with_a_hidden_part_is_rounded_on_its_own():
    eq = Equation((2, "n"), ((0, "n"), (1, "n")), "total")
    out = rounding({(0, "n"): 12, (1, "n"): 3, (2, "n"): 15}, {(1, "n")}, [eq], 5)
    assert out == {(0, "n"): 10, (1, "n"): 3, (2, "n"): 15}


def test_decimals_round_too():
    assert round_to(Decimal("12.40"), 5) == 10.0
