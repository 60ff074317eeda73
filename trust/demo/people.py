"""The one synthetic population every department's records are drawn from.

A person is a person number. Their pseudonymous ``person_id`` (keyed BLAKE2b of the number),
NINO, local authority, date of birth and sex are pure functions of (seed, number), so the
same person looks the same in every department whatever order the datasets are built in.
NINOs start with Q, a prefix never issued, so they are visibly fake.

Person numbers: 0 the multi-job claimant, 1..20 the small-area claimants, 100.. the corner
employees, then one block per pool, so numbers (and pseudonyms) do not depend on the scale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pyarrow as pa

from trust.demo import reference as ref
from trust.demo.corners import CORNER_EMPLOYMENTS, MULTI_JOB_LA, MULTI_JOB_PERSON, SMALL_AREA_CLAIMANTS

REFERENCE_DATE = np.datetime64("2025-04-01")  # ages and age bands are as at this date
_LINKAGE_KEY = b"labour-market-data-trust-demo"

LA_CODES = np.array([la[0] for la in ref.LOCAL_AUTHORITIES])
LA_REGIONS = np.array([la[2] for la in ref.LOCAL_AUTHORITIES])
LA_INDEX = {code: i for i, code in enumerate(LA_CODES)}
# Small-area corners are kept out of random placement so their counts stay exact.
_LA_CUM = np.cumsum([0 if la[0] in SMALL_AREA_CLAIMANTS else la[3] for la in ref.LOCAL_AUTHORITIES], dtype=np.float64)
_LA_CUM /= _LA_CUM[-1]
_SMALL_AREA_PEOPLE = [la for la, n in SMALL_AREA_CLAIMANTS.items() for _ in range(n)]
FIXED_CLAIMANTS = 1 + len(_SMALL_AREA_PEOPLE)  # the first rows of the "uc" pool: 0..20
_POOL_SIZES = {"uc": 20_000, "employed": 11_000, "pip": 6_000, "learners": 7_000}
_POOL_BASE = {"uc": 1_000_000, "employed": 20_000_000, "pip": 30_000_000, "learners": 40_000_000}
_NINO_LETTERS = np.frombuffer(b"ABCEGHJKLMNPRSTWXYZ", dtype=np.uint8)

# Share of each pool in the age bands of reference.AGE_BANDS, and the share who are women.
_AGE_LOWS = np.array([16, 25, 35, 45, 55, 65])
_AGE_HIGHS = np.array([24, 34, 44, 54, 64, 75])
_AGE_WEIGHTS = {
    "uc": [0.16, 0.28, 0.24, 0.17, 0.14, 0.01],
    "employed": [0.11, 0.22, 0.22, 0.21, 0.19, 0.05],
    "corner_employed": [0.05, 0.25, 0.25, 0.25, 0.20, 0.0],
    "pip": [0.06, 0.13, 0.16, 0.21, 0.27, 0.17],
    "learners": [0.45, 0.20, 0.15, 0.10, 0.08, 0.02],
}
_FEMALE = {"uc": 0.54, "employed": 0.48, "corner_employed": 0.30, "pip": 0.55, "learners": 0.55}


def person_ids(numbers: Sequence[int] | np.ndarray) -> np.ndarray:
    """Pseudonymised person ids ('p' + 15 hex chars) as fixed-width bytes (dtype S16)."""
    ids = (
        b"p" + hashlib.blake2b(int(n).to_bytes(8, "little"), key=_LINKAGE_KEY, digest_size=8).hexdigest()[:15].encode()
        for n in numbers
    )
    return np.fromiter(ids, dtype="S16", count=len(numbers))  # no list of millions of bytes objects


MULTI_JOB_PERSON_ID = person_ids([MULTI_JOB_PERSON])[0].decode()


def _ninos(numbers: np.ndarray) -> np.ndarray:
    # A bijection from person number to 'Q?dddddd?' keeps NINOs unique without a lookup.
    n = numbers.astype(np.int64)
    assert n.max(initial=0) < len(_NINO_LETTERS) * 4_000_000
    digits = ((n // 4) % 1_000_000 * 738_457 + 271_828) % 1_000_000
    out = np.empty((len(n), 9), dtype=np.uint8)
    out[:, 0] = ord("Q")
    out[:, 1] = _NINO_LETTERS[n // 4_000_000]
    for k in range(6):  # digit by digit: an (n, 6) int64 temporary would cost 50 bytes a person
        out[:, 2 + k] = digits // 10 ** (5 - k) % 10 + ord("0")
    out[:, 8] = np.frombuffer(b"ABCD", dtype=np.uint8)[n % 4]
    return out.view("S9").ravel()


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fast, well-mixed hash of uint64 values (arrays wrap silently)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def keyed_uniform(keys: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """A uniform in [0, 1) that is a pure function of (seed, key, stream)."""
    key = np.uint64((seed * 0x100000001B3 + stream * 0x9E3779B97F4A7C15) % 2**64)
    return (mix(keys.astype(np.uint64) ^ key) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def person_uniform(numbers: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """A uniform draw that is a pure function of (seed, person, stream).

    Person attributes come from here rather than a shared generator, so the same person
    gets the same place and birth date in every department, whatever order we build them.
    """
    return keyed_uniform(numbers, seed, stream)


def place(u: np.ndarray) -> np.ndarray:
    """Local authority indices, population-weighted, never a small-area corner."""
    return np.minimum(np.searchsorted(_LA_CUM, u, side="right"), len(_LA_CUM) - 1)


@dataclass(frozen=True)
class People:
    numbers: np.ndarray
    pid: np.ndarray  # S16
    nino: np.ndarray  # S9
    la: np.ndarray  # index into reference.LOCAL_AUTHORITIES
    dob: np.ndarray  # datetime64[D]
    female: np.ndarray  # bool
    pools: Mapping[str, np.ndarray]  # pool name -> row indices into the arrays above


def people(scale: float, seed: int) -> People:
    """Everyone, in pools. The fixed claimants come first, so for them row == person number
    (rows 0..FIXED_CLAIMANTS - 1: the multi-job claimant, then the small-area claimants)."""
    blocks = [np.arange(FIXED_CLAIMANTS), np.arange(100, 100 + len(CORNER_EMPLOYMENTS))]
    blocks += [_POOL_BASE[p] + np.arange(round(n * scale)) for p, n in _POOL_SIZES.items()]
    numbers = np.concatenate(blocks).astype(np.int64)
    la = place(person_uniform(numbers, seed, 0))
    la[MULTI_JOB_PERSON] = LA_INDEX[MULTI_JOB_LA]
    la[1:FIXED_CLAIMANTS] = [LA_INDEX[code] for code in _SMALL_AREA_PEOPLE]
    starts = np.cumsum([0] + [len(b) for b in blocks])
    pools = {p: np.arange(starts[i + 2], starts[i + 3]) for i, p in enumerate(_POOL_SIZES)}
    pools["uc"] = np.concatenate([np.arange(FIXED_CLAIMANTS), pools["uc"]])
    pools["corner_employed"] = np.arange(starts[1], starts[2])
    dob = np.empty(len(numbers), dtype="datetime64[D]")
    female = np.empty(len(numbers), dtype=bool)
    for pool, rows in pools.items():
        dob[rows] = _birth_dates(numbers[rows], seed, _AGE_WEIGHTS[pool])
        female[rows] = person_uniform(numbers[rows], seed, 4) < _FEMALE[pool]
    return People(numbers, person_ids(numbers), _ninos(numbers), la, dob, female, MappingProxyType(pools))


def _birth_dates(numbers: np.ndarray, seed: int, weights: Sequence[float]) -> np.ndarray:
    cum = np.cumsum(weights) / np.sum(weights)
    band = np.minimum(np.searchsorted(cum, person_uniform(numbers, seed, 1), side="right"), len(cum) - 1)
    years = _AGE_LOWS[band] + (person_uniform(numbers, seed, 2) * (_AGE_HIGHS - _AGE_LOWS + 1)[band]).astype(int)
    # Counting back from the reference date keeps the completed age equal to `years`.
    anniversaries = np.array([np.datetime64(f"{2025 - y}-04-01") for y in range(_AGE_HIGHS[-1] + 1)])
    return anniversaries[years] - (person_uniform(numbers, seed, 3) * 365).astype(int)


def completed_age(dob: np.ndarray, on: np.datetime64 = REFERENCE_DATE) -> np.ndarray:
    """Each person's age in completed years on a date."""
    dob = dob.astype("datetime64[D]")
    y, m = dob.astype("datetime64[Y]"), dob.astype("datetime64[M]")
    month_day = (m - y).astype(int) * 100 + (dob - m).astype(int)
    day = np.asarray(on, dtype="datetime64[D]")
    on_y, on_m = day.astype("datetime64[Y]"), day.astype("datetime64[M]")
    on_month_day = (on_m - on_y).astype(int) * 100 + (day - on_m).astype(int)
    return (on_y - y).astype(int) - (month_day > on_month_day)


def age_band_index(dob: np.ndarray, on: np.datetime64 = REFERENCE_DATE) -> np.ndarray:
    """Index into reference.AGE_BANDS of each person's completed age on a date."""
    return np.searchsorted([lo for _, lo in ref.AGE_BANDS], completed_age(dob, on), side="right") - 1


def places(la: np.ndarray) -> dict[str, pa.Array]:
    codes = pa.array(LA_CODES.tolist(), pa.string())
    return {
        "la_code": codes.take(pa.array(la)),
        "region": pa.array(LA_REGIONS.tolist(), pa.string()).take(pa.array(la)),
    }


def place_order(pop: People, rows: np.ndarray) -> np.ndarray:
    """The permutation that puts rows in (la_code, person_id) order, as person-level datasets
    are written: sorting before building columns saves copying a whole table."""
    return np.lexsort((pop.pid[rows], LA_CODES[pop.la[rows]]))


def sorted_by_place(pop: People, rows: np.ndarray) -> np.ndarray:
    return rows[place_order(pop, rows)]


def members(pop: People, gen: np.random.Generator, rates: Mapping[str, float | np.ndarray]) -> np.ndarray:
    """Rows of people drawn from each pool at the given rate (rate 1: the whole pool).

    A rate may be an array aligned with the pool, to make some people likelier than others.
    """
    pools = [pop.pools[p][gen.random(len(pop.pools[p])) < r] for p, r in rates.items()]
    return np.concatenate(pools)
