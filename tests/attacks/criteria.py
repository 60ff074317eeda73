"""When an interval is a leak (issue 12's acceptance):

* a count of 1 to ``min_units - 1`` units, or a protected zero, pinned to one value (after rounding
  the LP's interval inwards to integers);
* a sensitive magnitude whose interval's half-width is below p% (10%) of its largest contribution
  (a zero sum: pinned);
* a probe's group of 1 to ``min_units - 1`` units whose existence is proved (its least value >= 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tests.attacks.auditor import Interval
from tests.attacks.observe import Quantity

P_PERCENT = 0.1
SLACK = 1e-6


@dataclass(frozen=True)
class Verdict:
    quantity: Quantity
    interval: Interval  # counts: rounded inwards to integers
    leak: bool
    how: str  # why it is a leak, or ""


def integer(interval: Interval) -> Interval:
    lo = math.ceil(interval.lo - SLACK) if math.isfinite(interval.lo) else interval.lo
    hi = math.floor(interval.hi + SLACK) if math.isfinite(interval.hi) else interval.hi
    return Interval(max(lo, 0), hi)


def judge(q: Quantity, interval: Interval) -> Verdict:
    if q.term.kind == "count":
        iv = integer(interval)
        if not q.sensitive:
            return Verdict(q, iv, False, "")
        if iv.lo == iv.hi:
            what = "a protected zero" if q.truth == 0 else f"a count of {q.truth:g}"
            return Verdict(q, iv, True, f"{what} pinned to {iv.lo:g}")
        if q.origin == "probe" and q.truth >= 1 and iv.lo >= 1:
            return Verdict(q, iv, True, f"a group of {q.truth:g} proved to exist (at least {iv.lo:g})")
        return Verdict(q, iv, False, "")
    if not q.sensitive:
        return Verdict(q, interval, False, "")
    largest = q.largest or 0.0
    if largest == 0:
        leak = interval.hi - interval.lo <= SLACK * (1 + abs(q.truth))
        return Verdict(q, interval, leak, "a zero sum pinned" if leak else "")
    if interval.half_width < P_PERCENT * largest:
        return Verdict(
            q,
            interval,
            True,
            f"a sum of {q.truth:,.2f} known to +/- {interval.half_width:,.2f}, "
            f"under {P_PERCENT:.0%} of its largest contribution {largest:,.2f}",
        )
    return Verdict(q, interval, False, "")
