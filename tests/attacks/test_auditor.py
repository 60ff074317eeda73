"""The auditor on small systems worked by hand, without the trust: it must find what is there to find,
and noise within the published bound must be what stops it."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from tests.attacks.atoms import AtomSpace
from tests.attacks.auditor import ModelError, System
from tests.attacks.catalogue import DatasetInfo
from tests.attacks.criteria import judge
from tests.attacks.observe import Fact, Quantity, Term

DS = "toy.people"
# Four atoms: area A (small) and B, by sex F and M.
A_F, A_M, B_F, B_M = 0, 1, 2, 3
UNITS = np.array([1.0, 2.0, 50.0, 60.0])
AWARDS = np.array([900.0, 2000.0, 40_000.0, 50_000.0])


def space() -> AtomSpace:
    info = DatasetInfo(DS, "id", {"area": "dimension", "sex": "dimension", "award": "measure"})
    n = len(UNITS)
    return AtomSpace(
        info,
        ("area", "sex"),
        {},
        ("award",),
        pa.table({"atom_id": list(range(n))}),
        {"award": np.zeros(n)},
        {"award": np.full(n, 5000.0)},
        UNITS,
        {"award": AWARDS},
    )


def count(*atoms: int) -> Term:
    return Term(DS, "count", None, frozenset(atoms))


def award(*atoms: int) -> Term:
    return Term(DS, "sum", "award", frozenset(atoms))


def table_and_margin(noise: float) -> list[Fact]:
    """Area x sex with area A withheld, then the sex margin, each shown value within ``noise`` of the truth."""
    shown = [(count(B_F), 50.0), (count(B_M), 60.0), (count(A_F, B_F), 51.0), (count(A_M, B_M), 62.0)]
    facts = [Fact(t, v - noise, v + noise, str(t), True, v) for t, v in shown]
    return facts + [Fact(count(A_F), 0, 9, "A,F withheld"), Fact(count(A_M), 0, 9, "A,M withheld")]


def test_a_table_and_its_margin_pin_the_withheld_cells() -> None:
    q = Quantity(count(A_F), 1.0, "A,F", "withheld row", True, 10)
    system = System({DS: space()}, table_and_margin(0.0), [q])
    system.check([q])
    verdict = judge(q, system.bound(q.term))
    assert verdict.leak and (verdict.interval.lo, verdict.interval.hi) == (1, 1)


@pytest.mark.parametrize("noise", [1.0, 3.0])
def test_noise_within_the_bound_leaves_an_interval(noise: float) -> None:
    q = Quantity(count(A_F), 1.0, "A,F", "withheld row", True, 10)
    system = System({DS: space()}, table_and_margin(noise), [q])
    system.check([q])
    verdict = judge(q, system.bound(q.term))
    assert not verdict.leak and verdict.interval.lo <= 1 <= verdict.interval.hi
    assert verdict.interval.hi - verdict.interval.lo >= min(2 * noise, 9) - 1e-9


def test_a_fact_the_data_contradicts_is_a_model_error() -> None:
    wrong = [Fact(count(B_F), 49.0, 49.0, "B,F = 49", True, 49.0)]
    with pytest.raises(ModelError, match="B,F = 49"):
        System({DS: space()}, wrong, []).check([])


def test_a_dominated_sum_by_subtraction_and_with_magnitude_noise() -> None:
    """A's award total is hidden; A+B and B are shown. Exact: known to the penny. With noise of 20% of the
    largest contribution on each shown total, the half-width is over the 10% p%-criterion."""
    q = Quantity(award(A_F, A_M), 2900.0, "A award", "suppressed cell", True, 10, largest=2000.0)
    for noise, leaks in ((0.0, True), (0.2 * 2000.0, False)):
        shown = [(award(A_F, A_M, B_F, B_M), AWARDS.sum()), (award(B_F, B_M), 90_000.0)]
        facts = [Fact(t, v - noise, v + noise, str(t), True, v) for t, v in shown]
        system = System({DS: space()}, facts, [q])
        system.check([q])
        interval = system.bound(q.term)
        assert judge(q, interval).leak is leaks, (noise, interval)


def test_a_probe_proved_to_exist_without_being_pinned() -> None:
    """A's total is known to be 3 or more and A,M at most 2: someone in A,F exists, though not how many."""
    facts = [Fact(count(A_F, A_M), 3, 9, "A has 3 to 9"), Fact(count(A_M), 0, 2, "A,M has at most 2")]
    q = Quantity(count(A_F), 1.0, "probe A,F", "probe", True, 10)
    system = System({DS: space()}, facts, [q])
    system.check([q])
    verdict = judge(q, system.bound(q.term))
    assert verdict.leak and verdict.interval.lo == 1 and verdict.interval.hi == 9 and "exist" in verdict.how


def test_an_unconstrained_quantity_is_unbounded() -> None:
    q = Quantity(count(A_F), 1.0, "A,F", "withheld row", True, 10)
    interval = System({DS: space()}, [], [q]).bound(q.term)
    assert interval.lo == 0 and math.isinf(interval.hi)
