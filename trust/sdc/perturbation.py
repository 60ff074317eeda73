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
stays zero (a zero is suppressed by its own rule where it would disclose).

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


def _max_entropy(support: list[int], variance: float) -> list[float]:
    """Probabilities on ``support`` with mean 0 and variance as close to ``variance`` as the support
    allows, of maximum entropy: p(v) proportional to exp(a v + b v^2), fitted by Newton's method."""
    if support == [0]:
        return [1.0]
    a, b = 0.0, -1.0 / (2.0 * max(variance, 1e-6))
    target = variance
    for _ in range(200):
        weights = [math.exp(a * v + b * v * v) for v in support]
        z = sum(weights)
        p = [w / z for w in weights]
        m1 = sum(pi * v for pi, v in zip(p, support))
        m2 = sum(pi * v * v for pi, v in zip(p, support))
        m3 = sum(pi * v**3 for pi, v in zip(p, support))
        m4 = sum(pi * v**4 for pi, v in zip(p, support))
        # f = (mean, second moment - target); Jacobian of (m1, m2) in (a, b) is the covariance matrix
        f1, f2 = m1, m2 - target
        j11, j12, j22 = m2 - m1 * m1, m3 - m1 * m2, m4 - m2 * m2
        det = j11 * j22 - j12 * j12
        if abs(f1) < 1e-13 and abs(f2) < 1e-11:
            return p
        if det <= 1e-18:
            break
        da = (j22 * f1 - j12 * f2) / det
        db = (j11 * f2 - j12 * f1) / det
        step = 1.0
        while step > 1e-6 and (abs(da * step) > 5 or abs(db * step) > 5):
            step /= 2
        a, b = a - da * step, b - db * step
        if b > 0:  # the target variance is more than this support can hold with mean 0: take the most it can
            target = max(1e-6, target * 0.9)
            a, b = 0.0, -1.0 / (2.0 * target)
    return p


@dataclass(frozen=True)
class CountTable:
    """The perturbation table for counts: for each true count (the last row serves every larger one),
    cumulative thresholds on the key space for the noise values ``-D..D``."""

    max_deviation: int
    variance: float
    rows: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # per n: (noise values, cumulative thresholds)

    @classmethod
    def build(cls, max_deviation: int, variance: float) -> CountTable:
        return _count_table(int(max_deviation), float(variance))

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
def _count_table(max_deviation: int, variance: float) -> CountTable:
    rows: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for n in range(max_deviation + 1):
        if n == 0:
            rows.append(((0,), (KEY_SPACE,)))
            continue
        support = [v for v in range(-max_deviation, max_deviation + 1) if n + v >= 0]
        p = _max_entropy(support, variance)
        cumulative: list[int] = []
        total = 0.0
        for pi in p:
            total += pi
            cumulative.append(min(KEY_SPACE, round(total * KEY_SPACE)))
        cumulative[-1] = KEY_SPACE
        rows.append((tuple(support), tuple(cumulative)))
    return CountTable(max_deviation, variance, tuple(rows))


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

    @property
    def table(self) -> CountTable:
        return CountTable.build(self.max_deviation, self.variance)

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
