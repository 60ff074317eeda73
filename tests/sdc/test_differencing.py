"""Differencing across a project's outputs, with populations stored in the trust's store."""

from __future__ import annotations

import numpy as np
import pytest

from trust.sdc import differencing as diff
from trust.sdc.cells import Parameters
from trust.sdc.sketch import build, build_many
from trust.store import Store
from trust.store.populations import ProjectHistory

SCHEME = "test-scheme"


def _pop(row: int, units: np.ndarray, family: str = "person_id:any", column: str = "n") -> diff.Population:
    return diff.Population(row, len(units), build(units), {family: (column,)})


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "state.db")


def _record(store: Store, project: str, output_id: str, scheme: str, populations: list[diff.Population]) -> None:
    with store.write() as tx:
        tx.populations.insert(project, output_id, scheme, populations)


def test_all_claimants_then_all_but_one_local_authority(store):
    everyone = np.arange(1, 518, dtype=np.uint64)
    _record(store, "p1", "out-1", SCHEME, [_pop(0, everyone)])
    history = ProjectHistory(store, "p1")
    found = diff.differencing([_pop(0, everyone[7:])], Parameters(), history, scheme=SCHEME)
    assert found[(0, "n")].rule == "differencing" and found[(0, "n")].figures["difference"] == 7
    assert "out-1 row 0" in found[(0, "n")].detail
    # Ten people apart is a safe difference; the same population again is no difference at all.
    assert diff.differencing([_pop(0, everyone[10:])], Parameters(), history, scheme=SCHEME) == {}
    assert diff.differencing([_pop(0, everyone)], Parameters(), history, scheme=SCHEME) == {}


def test_history_is_per_project_family_and_scheme(store):
    everyone = np.arange(1, 518, dtype=np.uint64)
    _record(store, "p1", "out-1", SCHEME, [_pop(0, everyone)])
    new = [_pop(0, everyone[3:])]
    assert diff.differencing(new, Parameters(), ProjectHistory(store, "p2"), scheme=SCHEME) == {}
    assert diff.differencing(new, Parameters(), ProjectHistory(store, "p1"), scheme="other-hash") == {}
    businesses = [_pop(0, everyone[3:], family="employer_id:any", column="firms")]
    assert diff.differencing(businesses, Parameters(), ProjectHistory(store, "p1"), scheme=SCHEME) == {}


def test_rows_of_one_output_are_compared_but_totals_are_left_to_secondary_suppression():
    everyone = np.arange(1, 200, dtype=np.uint64)
    rows = [_pop(0, everyone), _pop(1, everyone[:-4])]
    found = diff.differencing(rows, Parameters())
    assert list(found) == [(1, "n")]
    assert diff.differencing(rows, Parameters(), linked=[(0, 1)]) == {}


def test_every_statistic_over_the_same_kind_of_unit_is_compared():
    # sum(1) is a count: a count and a sum over nearly the same people must be compared
    assert diff.family("person_id") == diff.family("person_id") != diff.family("employer_id")


def test_a_long_history_of_unrelated_cells_flags_nothing(store):
    # 20,000 stored cells of sizes 10 to 3,000 (about 60 within reach of each new cell); a new
    # 2,000-cell output is checked against them. The sketches stand for random populations.
    rng = np.random.default_rng(3)
    sizes = rng.integers(10, 3000, 20_000)
    sketches = build_many(rng.integers(0, 2**63, 20_000 * 40, dtype=np.uint64), np.arange(0, 20_001) * 40)
    for out in range(20):
        chunk = range(out * 1000, (out + 1) * 1000)
        _record(
            store,
            "p1",
            f"out-{out}",
            SCHEME,
            [diff.Population(i - out * 1000, int(sizes[i]), sketches[i], {"person_id:any": ("n",)}) for i in chunk],
        )
    new_sizes = rng.integers(10, 3000, 2000)
    new = [
        diff.Population(r, int(new_sizes[r]), s, {"person_id:any": ("n",)})
        for r, s in enumerate(build_many(rng.integers(0, 2**63, 2000 * 40, dtype=np.uint64), np.arange(0, 2001) * 40))
    ]
    found = diff.differencing(new, Parameters(), ProjectHistory(store, "p1"), scheme=SCHEME)
    assert found == {}  # random populations: nothing within reach, by pairs or by three (the time: benchmarks/)


def test_three_outputs_combined_are_checked(store):
    # "the region" (517) and "a ten-person area" (10) shown; "the region less that area less 3 people
    # picked by a measure" (504) differs from each by 10 or more, but from their difference by 3.
    region = np.arange(1, 518, dtype=np.uint64)
    area = region[:10]
    _record(store, "p1", "out-region", SCHEME, [_pop(0, region)])
    _record(store, "p1", "out-area", SCHEME, [_pop(0, area)])
    history = ProjectHistory(store, "p1")
    probe = [_pop(0, region[13:])]
    found = diff.differencing(probe, Parameters(), history, scheme=SCHEME)
    assert found[(0, "n")].figures["difference"] == 3 and "out-region" in found[(0, "n")].detail
    # exactly the region less the area is hidden too: "nobody" must look like "a few"
    exact = diff.differencing([_pop(0, region[10:])], Parameters(), history, scheme=SCHEME)
    assert exact[(0, "n")].figures["difference"] == 0
    # and the union of two areas less a few
    other = np.arange(1000, 1050, dtype=np.uint64)
    _record(store, "p1", "out-other", SCHEME, [_pop(0, other)])
    union_less = [_pop(0, np.concatenate([area, other])[:-2])]
    assert diff.differencing(union_less, Parameters(), history, scheme=SCHEME)[(0, "n")].figures["difference"] == 2
    # a cell far from every combination is shown
    unrelated = [_pop(0, np.arange(5000, 5300, dtype=np.uint64))]
    assert diff.differencing(unrelated, Parameters(), history, scheme=SCHEME) == {}


def test_three_outputs_are_found_by_key_when_sizes_crowd(store):
    # 6,000 earlier cells of 250 to 300 units: millions of pairs add up to about the new cell's 548,
    # so candidates are looked up by sketch key instead; the planted "region less area less 2" is found.
    rng = np.random.default_rng(11)
    sizes = rng.integers(250, 300, 6000)
    crowd = build_many(
        rng.integers(0, 2**63, int(sizes.sum()), dtype=np.uint64), np.concatenate([[0], np.cumsum(sizes)])
    )
    _record(
        store,
        "p1",
        "out-crowd",
        SCHEME,
        [diff.Population(i, int(sizes[i]), crowd[i], {"person_id:any": ("n",)}) for i in range(6000)],
    )
    region = np.arange(1, 1071, dtype=np.uint64)  # 1,070 people; an area of 520 of them
    _record(store, "p1", "out-region", SCHEME, [_pop(0, region)])
    _record(store, "p1", "out-area", SCHEME, [_pop(0, region[:520])])
    found = diff.differencing([_pop(0, region[522:])], Parameters(), ProjectHistory(store, "p1"), scheme=SCHEME)
    assert found[(0, "n")].figures["difference"] == 2 and "out-area" in found[(0, "n")].detail
