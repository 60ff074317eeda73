"""Population sketches: exact small differences, and errors only on the side of flagging."""

from __future__ import annotations

import numpy as np

from trust.sdc.sketch import CELLS, Sketch, build, build_many, difference, small_difference


def test_serialisation_round_trips():
    s = build(np.arange(1, 500, dtype=np.uint64))
    back = Sketch.from_bytes(s.to_bytes())
    assert len(s.to_bytes()) == 20 * CELLS
    assert difference(s, back) == 0


def test_build_many_is_build_per_row():
    rng = np.random.default_rng(1)
    h = rng.integers(0, 2**63, 1000, dtype=np.uint64)
    offsets = np.array([0, 10, 10, 700, 1000])
    many = build_many(h, offsets)
    for r in range(4):
        one = build(h[offsets[r] : offsets[r + 1]])
        assert (one.count == many[r].count).all() and (one.keys == many[r].keys).all()


def test_small_differences_are_never_missed():
    # Over many random pairs differing by 1 to 9 units, every one is flagged (exactly, or as a
    # lower bound when peeling fails); pairs differing by 10 or more are flagged only when
    # peeling fails and few cells differ, which is rare.
    rng = np.random.default_rng(7)
    missed, exact, false_flags = 0, 0, 0
    for d in range(1, 13):
        for _ in range(300):
            base = rng.integers(0, 2**63, 300, dtype=np.uint64)
            extra = rng.integers(0, 2**63, d, dtype=np.uint64)
            k = int(rng.integers(0, d + 1))
            got = small_difference(build(np.r_[base, extra[:k]]), build(np.r_[base, extra[k:]]), 10)
            if d < 10:
                missed += got is None
                exact += got is not None and got == (d, True)
            else:
                false_flags += got is not None
    assert missed == 0
    assert exact > 0.98 * 9 * 300
    assert false_flags < 0.05 * 3 * 300


def test_large_and_equal_populations_are_not_flagged():
    a = build(np.arange(1, 100_001, dtype=np.uint64))
    assert small_difference(a, build(np.arange(1, 100_001, dtype=np.uint64)), 10) is None
    assert small_difference(a, build(np.arange(1, 99_000, dtype=np.uint64)), 10) is None
    assert small_difference(a, build(np.arange(1, 99_994, dtype=np.uint64)), 10) == (7, True)
