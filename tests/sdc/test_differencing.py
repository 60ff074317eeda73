"""Differencing across a project's outputs, with populations stored in the trust's store."""

from __future__ import annotations

import time

import numpy as np
import pytest

from trust.sdc import differencing as diff
from trust.sdc.cells import Parameters
from trust.sdc.sketch import build, build_many
from trust.store import Store

SCHEME = "test-scheme"


def _pop(row: int, units: np.ndarray, family: str = "person_id:count", column: str = "n") -> diff.Population:
    return diff.Population(row, len(units), build(units), {family: (column,)})


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "state.db")


def test_all_claimants_then_all_but_one_local_authority(store):
    everyone = np.arange(1, 518, dtype=np.uint64)
    diff.record(store, "p1", "out-1", SCHEME, [_pop(0, everyone)])
    history = diff.StoredHistory(store, "p1")
    found = diff.differencing([_pop(0, everyone[7:])], Parameters(), history, scheme=SCHEME)
    assert found[(0, "n")].rule == "differencing" and found[(0, "n")].figures["difference"] == 7
    assert "out-1 row 0" in found[(0, "n")].detail
    # Ten people apart is a safe difference; the same population again is no difference at all.
    assert diff.differencing([_pop(0, everyone[10:])], Parameters(), history, scheme=SCHEME) == {}
    assert diff.differencing([_pop(0, everyone)], Parameters(), history, scheme=SCHEME) == {}


def test_history_is_per_project_family_and_scheme(store):
    everyone = np.arange(1, 518, dtype=np.uint64)
    diff.record(store, "p1", "out-1", SCHEME, [_pop(0, everyone)])
    new = [_pop(0, everyone[3:])]
    assert diff.differencing(new, Parameters(), diff.StoredHistory(store, "p2"), scheme=SCHEME) == {}
    assert diff.differencing(new, Parameters(), diff.StoredHistory(store, "p1"), scheme="other-hash") == {}
    other = [_pop(0, everyone[3:], family="person_id:sum:x.y.amount", column="pay")]
    assert diff.differencing(other, Parameters(), diff.StoredHistory(store, "p1"), scheme=SCHEME) == {}


def test_rows_of_one_output_are_compared_but_totals_are_left_to_secondary_suppression():
    everyone = np.arange(1, 200, dtype=np.uint64)
    rows = [_pop(0, everyone), _pop(1, everyone[:-4])]
    found = diff.differencing(rows, Parameters())
    assert list(found) == [(1, "n")]
    assert diff.differencing(rows, Parameters(), linked=[(0, 1)]) == {}


def test_families_follow_the_statistic():
    assert diff.family("person_id", "count", ()) == "person_id:count"
    assert diff.family("person_id", "avg", ("a.b.x",)) == diff.family("person_id", "sum", ("a.b.x",))
    assert diff.family("person_id", "max", ("a.b.x",)) is None


def test_a_long_history_stays_fast(store):
    # 20,000 stored cells of sizes 10 to 3,000 (about 60 within reach of each new cell); a new
    # 2,000-cell output is checked against them. The sketches stand for random populations.
    rng = np.random.default_rng(3)
    sizes = rng.integers(10, 3000, 20_000)
    sketches = build_many(rng.integers(0, 2**63, 20_000 * 40, dtype=np.uint64), np.arange(0, 20_001) * 40)
    for out in range(20):
        chunk = range(out * 1000, (out + 1) * 1000)
        diff.record(store, "p1", f"out-{out}", SCHEME,
                    [diff.Population(i - out * 1000, int(sizes[i]), sketches[i], {"person_id:count": ("n",)})
                     for i in chunk])
    new_sizes = rng.integers(10, 3000, 2000)
    new = [diff.Population(r, int(new_sizes[r]), s, {"person_id:count": ("n",)})
           for r, s in enumerate(build_many(rng.integers(0, 2**63, 2000 * 40, dtype=np.uint64), np.arange(0, 2001) * 40))]
    start = time.perf_counter()
    found = diff.differencing(new, Parameters(), diff.StoredHistory(store, "p1"), scheme=SCHEME)
    elapsed = time.perf_counter() - start
    assert found == {}
    assert elapsed < 2.0, elapsed
