"""Consistent perturbation: the cell key method (DWP Stat-Xplore, ABS TableBuilder, ONS 2021 Census).

Every unit has a record key, a keyed hash of its unit key under a secret only the trust holds
(computed by the engine: ``trust.sql.companions``). A cell's key is the sum of its contributing
units' record keys modulo 2**32, so the same population always has the same key, however the
query that reaches it is spelled and whoever asks. The published value is a function of the true
value and the key alone, so repeating, re-spelling or combining queries averages nothing away.

**Counts** (``count``, ``count(DISTINCT unit)``, and sums of 0/1 indicators, which are counts) are
perturbed through a perturbation table: for a true count ``n`` the noise ``v`` is drawn, by the
cell key, from the maximum-entropy distribution on ``-D..D`` with mean 0 and variance ``V``
(Giessing 2016; the ``ptable`` R package), truncated so that ``n + v`` is never negative. A zero
stays zero (a zero is suppressed by its own rule where it would disclose). With ``small_values``
k (policy's choice; 0 by default, since rows of fewer than the minimum units are never returned at
all) no count is published as 1 to k, and a true count of 1 to k is never published as itself.

**Magnitudes** (``sum``, and the sum behind ``avg``) follow the ABS magnitude method, scaled by
the cell's largest contribution ``x1`` (its absolute value)::

    published = S + x1 * (top_share * d1(record key of the largest contributor)
                          + cell_share * w(cell key))

``d1`` is at least 0.5 and at most 1 in size, with a sign, and belongs to the largest unit: it is
the same wherever that unit is the largest contributor, so asking for a dominated cell together
with many different others and subtracting never cancels it, and the dominant unit's value stays
displaced by at least ``top_share / 2 * x1`` (0.1 x1 by default, the p% rule's 10%). ``w`` is drawn
from the cell key by a table like the counts' (``-D..D``, variance ``magnitude_variance``): its
bound, ``cell_share * D * x1`` (5 x1 by default), is what an attacker must allow for, so removing
up to nine units of at most ``x1`` each from a cell, and subtracting, never proves that they exist;
its variance keeps the usual noise near half of ``x1``. An average is the perturbed sum over the
perturbed count of its values, so that a row's sum, average and count stay consistent with each
other. Minima, maxima, medians and quantiles move by ``cell_share * |value| * w / D``. Published
sums and averages are rounded to 10 significant digits, so the same population's sum, added up in
another order by another query, still publishes the same number.

The noise is bounded and its bounds are public (``bounds``): an attacker who knows them, and
every value the trust ever published, can still not pin a withheld count of 1 to 9 (each cell
that enters a difference adds up to ``D`` either way) nor a dominated magnitude to within p% of
its largest contributor (``tests/attacks`` checks this by linear programming).

    >>> table = CountTable.build(max_deviation=10, variance=2.0)
    >>> table.perturb(0, 123456789)
    0
    >>> abs(table.perturb(120, 987654321) - 120) <= 10
    True
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

KEY_SPACE = 1 << 32  # record keys and cell keys are whole numbers modulo 2**32


def _uniform(key: int, purpose: str) -> float:
    """A number in [0, 1) determined by ``key`` and ``purpose``: independent draws from one cell key."""
    digest = hashlib.sha256(f"{purpose}:{key % KEY_SPACE}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / float(1 << 64)


def _feasible_variance(support: list[int], variance: float) -> float:
    """The variance to fit: ``variance`` moved inside what a mean-zero distribution on ``support`` can
    have. The least is put on the nearest value either side of 0 (a support without 0, as for a small
    count that may not be published as itself, forces more); the most on the two extremes."""
    below = [v for v in support if v < 0]
    above = [v for v in support if v > 0]
    if not below or not above:
        return 0.0
    least = 0.0 if 0 in support else -max(below) * min(above)
    most = -min(below) * max(above)
    return min(max(variance, least + 0.25 * (most - least) * (variance / (variance + most))), 0.9 * most)


def _tilted(support: list[int], a: float, b: float) -> list[float]:
    logs = [a * v + b * v * v for v in support]
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]  # scaled by the largest, so nothing underflows to all zero
    z = sum(weights)
    return [w / z for w in weights]


def _mean_zero(support: list[int], b: float) -> list[float]:
    """exp(a v + b v^2) on ``support`` with ``a`` chosen so the mean is 0 (the mean rises with ``a``)."""
    lo, hi = -500.0, 500.0
    p = _tilted(support, 0.0, b)
    for _ in range(200):
        a = (lo + hi) / 2
        p = _tilted(support, a, b)
        mean = sum(pi * v for pi, v in zip(p, support))
        if abs(mean) < 1e-13:
            break
        lo, hi = (a, hi) if mean < 0 else (lo, a)
    return p


def _max_entropy(support: list[int], variance: float) -> list[float]:
    """Probabilities on ``support`` with mean 0 and variance as close to ``variance`` as the support
    allows, of maximum entropy: p(v) proportional to exp(a v + b v^2). Along mean 0 the variance
    rises with ``b``, so ``b`` is found by bisection and ``a`` for each ``b`` likewise."""
    if not [v for v in support if v < 0] or not [v for v in support if v > 0]:
        if 0 not in support:
            raise ValueError(f"no mean-zero noise exists on {support}: small_values must be at most max_deviation")
        return [1.0 if v == 0 else 0.0 for v in support]  # no room either side: the count is kept
    target = _feasible_variance(support, variance)
    lo, hi = -60.0, 60.0 / max(v * v for v in support)
    p = _mean_zero(support, (lo + hi) / 2)
    for _ in range(200):
        b = (lo + hi) / 2
        p = _mean_zero(support, b)
        var = sum(pi * v * v for pi, v in zip(p, support))
        if abs(var - target) < 1e-10 * max(1.0, target):
            break
        lo, hi = (b, hi) if var < target else (lo, b)
    return p


@dataclass(frozen=True)
class CountTable:
    """The perturbation table for counts: for each true count (the last row serves every larger one),
    cumulative thresholds on the key space for the noise values ``-D..D``."""

    max_deviation: int
    variance: float
    rows: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # per n: (noise values, cumulative thresholds)
    small_values: int = 0  # published counts never fall in 1..small_values (a true one is never published as itself)

    @classmethod
    def build(cls, max_deviation: int, variance: float, small_values: int = 0) -> CountTable:
        return _count_table(int(max_deviation), float(variance), int(small_values))

    def noise(self, n: int, key: int) -> int:
        """The noise for true count ``n`` and cell key ``key``: inverse CDF at the key."""
        if n <= 0:
            return 0
        values, thresholds = self.rows[min(n, len(self.rows) - 1)]
        k = key % KEY_SPACE
        for v, t in zip(values, thresholds):
            if k < t:
                return v
        return values[-1]

    def perturb(self, n: int, key: int) -> int:
        return n + self.noise(n, key)

    def distribution(self, n: int) -> dict[int, float]:
        """The noise distribution for true count ``n`` (for docs and tests)."""
        values, thresholds = self.rows[min(max(n, 0), len(self.rows) - 1)]
        out, last = {}, 0
        for v, t in zip(values, thresholds):
            out[v] = (t - last) / KEY_SPACE
            last = t
        return out


@functools.lru_cache(maxsize=16)
def _count_table(max_deviation: int, variance: float, small_values: int = 0) -> CountTable:
    rows: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for n in range(max_deviation + small_values + 1):
        if n == 0:
            rows.append(((0,), (KEY_SPACE,)))
            continue
        support = [v for v in range(-max_deviation, max_deviation + 1) if n + v >= 0 and not 1 <= n + v <= small_values]
        p = _max_entropy(support, variance)
        cumulative: list[int] = []
        total = 0.0
        for pi in p:
            total += pi
            cumulative.append(min(KEY_SPACE, round(total * KEY_SPACE)))
        cumulative[-1] = KEY_SPACE
        rows.append((tuple(support), tuple(cumulative)))
    return CountTable(max_deviation, variance, tuple(rows), small_values)


def top_noise(record_key: int) -> float:
    """d1: the largest contributor's own noise, in -1..-0.5 or 0.5..1, fixed for that unit."""
    u = _uniform(record_key, "top-magnitude")
    sign = 1.0 if _uniform(record_key, "top-sign") < 0.5 else -1.0
    return sign * (0.5 + 0.5 * u)


def count_key(cell_key: int, purpose: str = "magnitude") -> int:
    """A key for another draw from one cell key, independent of the count's own."""
    return int(_uniform(cell_key, purpose) * KEY_SPACE)


def significant(value: float, digits: int = 10) -> float:
    """``value`` to ``digits`` significant digits: the same sum added up in another order publishes alike."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


@dataclass(frozen=True)
class Noise:
    """The perturbation parameters of one output (policy obligations; strictest wins)."""

    max_deviation: int = 10
    variance: float = 2.0
    top_share: float = 0.2
    cell_share: float = 0.5
    magnitude_variance: float = 0.5
    small_values: int = 0  # policy: published counts never fall in 1..small_values

    @property
    def table(self) -> CountTable:
        return CountTable.build(self.max_deviation, self.variance, self.small_values)

    @property
    def magnitude_table(self) -> CountTable:
        return CountTable.build(self.max_deviation, self.magnitude_variance)

    def count(self, n: int, cell_key: int) -> int:
        return self.table.perturb(int(n), cell_key)

    def magnitude(self, total: float, largest: float, top_key: int | None, cell_key: int) -> float:
        """A perturbed sum: ``largest`` is the largest absolute per-unit contribution, ``top_key`` its record key."""
        x1 = abs(float(largest))
        w = self.magnitude_table.noise(self.max_deviation, count_key(cell_key))
        noise = self.cell_share * x1 * w
        if top_key is not None:
            noise += self.top_share * x1 * top_noise(top_key)
        return significant(float(total) + noise)

    def scaled(self, value: float, cell_key: int) -> float:
        """A perturbed minimum, maximum, median or quantile."""
        w = self.magnitude_table.noise(self.max_deviation, count_key(cell_key))
        return significant(float(value) * (1.0 + self.cell_share * w / self.max_deviation))

    def bound(self, kind: str, largest: float = 0.0) -> float:
        """The most a published value can differ from the true one (public: the auditor's knowledge)."""
        if kind == "count":
            return float(self.max_deviation)
        return (self.top_share + self.cell_share * self.max_deviation) * abs(largest)
