"""The cell key method's tables and noise: what the bounds promise, and that the same key gives the same value."""

from __future__ import annotations

import math
import random

import pytest

from trust.sdc.parameters import Parameters
from trust.sdc.perturbation import CountTable, Noise, significant, top_noise

_RNG = random.Random(7)
KEYS = [_RNG.getrandbits(32) for _ in range(20_000)]


@pytest.mark.parametrize(("d", "v"), [(10, 2.0), (5, 1.0), (10, 0.5), (3, 4.0)])
def test_every_row_of_the_count_table_has_mean_zero_and_stays_within_its_bound(d: int, v: float):
    table = CountTable.build(d, v)
    for n in range(0, d + 3):
        dist = table.distribution(n)
        assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-9)
        assert all(-d <= noise <= d and n + noise >= 0 for noise in dist), n
        mean = sum(k * p for k, p in dist.items())
        assert abs(mean) < 1e-6, (n, mean)
        variance = sum(k * k * p for k, p in dist.items())
        assert variance <= v + 1e-6  # never more than asked
        if n >= d and v <= d * d / 4:  # the full support holds the variance asked for
            assert math.isclose(variance, v, rel_tol=1e-4)


def test_a_zero_stays_zero_and_the_noise_is_a_function_of_the_key():
    table = CountTable.build(10, 2.0)
    assert {table.perturb(0, k) for k in KEYS[:1000]} == {0}
    assert [table.perturb(137, k) for k in KEYS[:200]] == [table.perturb(137, k) for k in KEYS[:200]]
    drawn = [table.noise(137, k) for k in KEYS]
    assert abs(sum(drawn) / len(drawn)) < 0.05 and 1.8 < sum(x * x for x in drawn) / len(drawn) < 2.2
    assert len(set(drawn)) >= 9  # noise, not a constant


def test_a_magnitude_moves_by_at_most_its_public_bound():
    noise = Noise()
    rng = random.Random(3)
    for key in KEYS[:5000]:
        total, largest = rng.uniform(1e3, 1e7), rng.uniform(1, 1e5)
        top = rng.getrandbits(64)
        published = noise.magnitude(total, largest, top, key)
        assert abs(published - total) <= noise.bound("sum", largest) * (1 + 1e-9)
    assert noise.bound("sum", 100.0) == pytest.approx((noise.top_share + noise.cell_share * noise.max_deviation) * 100)


def test_the_largest_contributor_is_always_displaced_by_at_least_half_its_share():
    shares = [abs(top_noise(k)) for k in KEYS]
    assert min(shares) >= 0.5 and max(shares) <= 1.0
    assert {top_noise(12345)} == {top_noise(12345) for _ in range(5)}  # a unit's own, wherever it is largest
    signs = {math.copysign(1, top_noise(k)) for k in KEYS[:100]}
    assert signs == {1.0, -1.0}


def test_published_sums_are_rounded_so_the_order_of_addition_does_not_show():
    a = sum([0.1] * 10)
    b = 1.0
    assert a != b and significant(a) == significant(b)
    assert significant(243170.87217494188) == significant(243170.87217494196)
    assert significant(0.0) == 0.0


@pytest.mark.parametrize("small", [3, 9])
def test_with_small_values_no_count_is_published_as_one_to_k(small: int):
    table = CountTable.build(10, 2.0, small)
    for n in range(0, 40):
        dist = table.distribution(n)
        published = {n + v for v, p in dist.items() if p > 0}
        assert not published & set(range(1, small + 1)), (n, sorted(published))
        assert abs(sum(v * p for v, p in dist.items())) < 1e-7  # no bias beyond the 2**-32 steps of the key space
        if n >= 1:
            assert len(published) >= 2  # every count moves
        if 1 <= n <= small:
            assert n not in published  # a small true count is never published as itself
        variance = sum(v * v * p for v, p in dist.items())
        assert n == 0 or variance >= 2.0 - 1e-6  # at least the variance asked for; more where the gap forces it


def test_small_values_must_leave_a_count_room_to_move():
    with pytest.raises(ValueError, match="small_values"):
        Parameters.from_json({"perturbation": {"method": "noise", "max_deviation": 5, "small_values": 5}})
