"""Deterministic synthetic data for four departments, written as zstd Parquet.

    >>> data = generate(Path("/tmp/demo"), scale=0.05)        # doctest: +SKIP
    >>> data["dwp.uc_claims"].rows                            # doctest: +SKIP

Layout (part counts are fixed, whatever the scale)::

    dwp/uc_claims/part-000{0,1}.parquet       sorted by la_code
    dwp/pip_awards/part-0000.parquet          sorted by la_code
    hmrc/paye_employments/part-000{0..3}.parquet   one tax quarter each, sorted by tax_month
    dfe/learners/part-0000.parquet            sorted by la_code
    desnz/businesses/part-0000.parquet        sorted by sic2007
    .complete                                 JSON manifest: version, scale, seed, files

The same person has the same ``person_id`` (keyed BLAKE2b of a person number) and NINO
in every department, and the same local authority wherever one is recorded. NINOs start
with Q, a prefix never issued, so they are visibly fake.

Deliberately disclosive corners, fixed whatever the scale and seed, so disclosure
control has something to catch:

* ``SMALL_AREA_CLAIMANTS``: Isles of Scilly has exactly 3 UC claimants, City of London 7,
  Rutland 10 (the boundary: a cell of 10 passes). No other claimant lives there.
* ``SINGLE_DOMINANCE_SIC`` (06100): one business holds ``SINGLE_DOMINANT_SHARE`` (94%)
  of the sector's turnover; the whole of SIC section B is these four businesses.
* ``TWO_DOMINANCE_SIC`` (19201): two businesses hold ``TWO_DOMINANT_SHARE`` (95.1%).
* ``PAYE_DOMINANCE_SIC`` (35110): ``PAYE_DOMINANT_EMPLOYER`` pays ``PAYE_DOMINANT_SHARE``
  (94.6%) of the sector's gross pay, every month; section D holds only these employers.
* ``MULTI_JOB_PERSON_ID``: a UC claimant with ``MULTI_JOB_EMPLOYERS`` employers in every
  tax month, so contributions must be summed per person before dominance is judged.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trust.demo import reference as ref

__all__ = [
    "DatasetFiles", "DemoData", "generate", "ensure_generated", "person_ids", "SCHEMAS",
    "ISLES_OF_SCILLY", "CITY_OF_LONDON", "RUTLAND", "SMALL_AREA_CLAIMANTS",
    "SINGLE_DOMINANCE_SIC", "SINGLE_DOMINANT_EMPLOYER", "SINGLE_DOMINANT_SHARE",
    "TWO_DOMINANCE_SIC", "TWO_DOMINANT_EMPLOYERS", "TWO_DOMINANT_SHARE",
    "PAYE_DOMINANCE_SIC", "PAYE_DOMINANT_EMPLOYER", "PAYE_DOMINANT_SHARE",
    "MULTI_JOB_PERSON_ID", "MULTI_JOB_EMPLOYERS",
]

GENERATOR_VERSION = 1  # bump when output changes, so ensure_generated regenerates
DEFAULT_SEED = 20261121
ROW_GROUP_SIZE = 16_384
REFERENCE_DATE = np.datetime64("2025-04-01")
_LINKAGE_KEY = b"labour-market-data-trust-demo"

ISLES_OF_SCILLY, CITY_OF_LONDON, RUTLAND = "E06000053", "E09000001", "E06000017"
SMALL_AREA_CLAIMANTS: Mapping[str, int] = MappingProxyType(
    {ISLES_OF_SCILLY: 3, CITY_OF_LONDON: 7, RUTLAND: 10})

# (employer_id, sic2007, employee_count, turnover in GBP thousands, la_code)
_CORNER_BUSINESSES: tuple[tuple[str, str, int, float, str], ...] = (
    ("E9000001", "06100", 400, 940_000.0, "E06000010"),
    ("E9000002", "06100", 40, 30_000.0, "E06000002"),
    ("E9000003", "06100", 25, 20_000.0, "E06000057"),
    ("E9000004", "06100", 8, 10_000.0, "E06000052"),
    ("E9000011", "19201", 900, 600_000.0, "E06000049"),
    ("E9000012", "19201", 600, 380_000.0, "E06000035"),
    ("E9000013", "19201", 60, 25_000.0, "E06000010"),
    ("E9000014", "19201", 30, 15_000.0, "E08000024"),
    ("E9000015", "19201", 12, 10_000.0, "E06000021"),
    ("E9000021", "35110", 30, 85_000.0, "E06000054"),
    ("E9000022", "35110", 3, 900.0, "E07000041"),
    ("E9000023", "35110", 2, 600.0, "E06000026"),
)
# (person number, employer_id, fixed monthly gross pay) for every tax month
_CORNER_EMPLOYMENTS: tuple[tuple[int, str, float], ...] = (
    *((100 + k, "E9000021", 4_800.0 + 100 * k) for k in range(30)),
    (130, "E9000022", 2_100.0), (131, "E9000022", 2_250.0), (132, "E9000022", 2_400.0),
    (133, "E9000023", 1_950.0), (134, "E9000023", 2_050.0),
)


def _share(values: Mapping[str, float], top: Sequence[str]) -> float:
    return sum(values[k] for k in top) / sum(values.values())


SINGLE_DOMINANCE_SIC, SINGLE_DOMINANT_EMPLOYER = "06100", "E9000001"
TWO_DOMINANCE_SIC, TWO_DOMINANT_EMPLOYERS = "19201", ("E9000011", "E9000012")
PAYE_DOMINANCE_SIC, PAYE_DOMINANT_EMPLOYER = "35110", "E9000021"
SINGLE_DOMINANT_SHARE = _share({b[0]: b[3] for b in _CORNER_BUSINESSES if b[1] == "06100"},
                               [SINGLE_DOMINANT_EMPLOYER])
TWO_DOMINANT_SHARE = _share({b[0]: b[3] for b in _CORNER_BUSINESSES if b[1] == "19201"},
                            TWO_DOMINANT_EMPLOYERS)
_pay: dict[str, float] = {}
for _p, _e, _g in _CORNER_EMPLOYMENTS:
    _pay[_e] = _pay.get(_e, 0.0) + _g
PAYE_DOMINANT_SHARE = _share(_pay, [PAYE_DOMINANT_EMPLOYER])
MULTI_JOB_EMPLOYERS = 8

_S, _D, _F = pa.string(), pa.date32(), pa.float64()
SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType({
    "dwp.uc_claims": pa.schema([
        ("person_id", _S), ("nino", _S), ("date_of_birth", _D), ("sex", _S), ("age_band", _S),
        ("la_code", _S), ("region", _S), ("claim_start", _D), ("conditionality_regime", _S),
        ("award_amount", _F), ("opted_out", pa.bool_())]),
    "dwp.pip_awards": pa.schema([
        ("person_id", _S), ("nino", _S), ("la_code", _S), ("region", _S),
        ("health_condition_group", _S), ("daily_living_award", _S), ("mobility_award", _S),
        ("award_start", _D), ("weekly_amount", _F)]),
    "hmrc.paye_employments": pa.schema([
        ("person_id", _S), ("employer_id", _S), ("tax_year", _S), ("tax_month", pa.int16()),
        ("gross_pay", _F), ("tax_paid", _F)]),
    "dfe.learners": pa.schema([
        ("person_id", _S), ("academic_year", _S), ("qualification_level", _S),
        ("provider_id", _S), ("subject_area", _S), ("achieved", pa.bool_()), ("la_code", _S),
        ("region", _S)]),
    "desnz.businesses": pa.schema([
        ("employer_id", _S), ("sic2007", _S), ("sic_section", _S), ("size_band", _S),
        ("region", _S), ("la_code", _S), ("employee_count", pa.int32()), ("turnover", _F)]),
})
_LAYOUT: Mapping[str, tuple[str, int]] = MappingProxyType({
    "dwp.uc_claims": ("dwp/uc_claims", 2), "dwp.pip_awards": ("dwp/pip_awards", 1),
    "hmrc.paye_employments": ("hmrc/paye_employments", 4), "dfe.learners": ("dfe/learners", 1),
    "desnz.businesses": ("desnz/businesses", 1),
})


@dataclass(frozen=True)
class DatasetFiles:
    dataset_id: str
    paths: tuple[Path, ...]
    rows: int
    bytes: int


@dataclass(frozen=True)
class DemoData:
    out_dir: Path
    scale: float
    seed: int
    datasets: Mapping[str, DatasetFiles]

    def __getitem__(self, dataset_id: str) -> DatasetFiles:
        return self.datasets[dataset_id]

    @property
    def total_rows(self) -> int:
        return sum(d.rows for d in self.datasets.values())

    @property
    def total_bytes(self) -> int:
        return sum(d.bytes for d in self.datasets.values())


# ---------------------------------------------------------------- people and places

_LA_CODES = np.array([la[0] for la in ref.LOCAL_AUTHORITIES])
_LA_REGIONS = np.array([la[2] for la in ref.LOCAL_AUTHORITIES])
_LA_INDEX = {code: i for i, code in enumerate(_LA_CODES)}
# Small-area corners are kept out of random placement so their counts stay exact.
_LA_CUM = np.cumsum([0 if la[0] in SMALL_AREA_CLAIMANTS else la[3] for la in ref.LOCAL_AUTHORITIES],
                    dtype=np.float64)
_LA_CUM /= _LA_CUM[-1]
# Person numbers: 0 multi-job claimant, 1..20 small-area claimants, 100.. corner employees,
# then one block per pool, so numbers (and pseudonyms) do not depend on the scale.
_SMALL_AREA_PEOPLE = [la for la, n in SMALL_AREA_CLAIMANTS.items() for _ in range(n)]
_POOL_BASE = {"uc": 1_000_000, "employed": 20_000_000, "pip": 30_000_000, "learners": 40_000_000}
_NINO_LETTERS = np.frombuffer(b"ABCEGHJKLMNPRSTWXYZ", dtype=np.uint8)


def person_ids(numbers: Sequence[int] | np.ndarray) -> np.ndarray:
    """Pseudonymised person ids ('p' + 15 hex chars) as fixed-width bytes (dtype S16)."""
    return np.array([b"p" + hashlib.blake2b(int(n).to_bytes(8, "little"), key=_LINKAGE_KEY,
                                            digest_size=8).hexdigest()[:15].encode()
                     for n in numbers], dtype="S16")


MULTI_JOB_PERSON_ID = person_ids([0])[0].decode()


def _ninos(numbers: np.ndarray) -> np.ndarray:
    # A bijection from person number to 'Q?dddddd?' keeps NINOs unique without a lookup.
    n = numbers.astype(np.int64)
    assert n.max(initial=0) < len(_NINO_LETTERS) * 4_000_000
    digits = ((n // 4) % 1_000_000 * 738_457 + 271_828) % 1_000_000
    out = np.empty((len(n), 9), dtype=np.uint8)
    out[:, 0] = ord("Q")
    out[:, 1] = _NINO_LETTERS[n // 4_000_000]
    out[:, 2:8] = digits[:, None] // 10 ** np.arange(5, -1, -1) % 10 + ord("0")
    out[:, 8] = np.frombuffer(b"ABCD", dtype=np.uint8)[n % 4]
    return out.view("S9").ravel()


def _mix(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)  # splitmix64 finaliser; uint64 arrays wrap silently
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _person_uniform(numbers: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """A uniform draw that is a pure function of (seed, person, stream).

    Person attributes come from here rather than a shared generator, so the same person
    gets the same place and birth date in every department, whatever order we build them.
    """
    key = np.uint64((seed * 0x100000001B3 + stream * 0x9E3779B97F4A7C15) % 2**64)
    return (_mix(numbers.astype(np.uint64) ^ key) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _place(u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(_LA_CUM, u, side="right"), len(_LA_CUM) - 1)


@dataclass(frozen=True)
class _People:
    numbers: np.ndarray
    pid: np.ndarray
    nino: np.ndarray
    la: np.ndarray
    pools: Mapping[str, np.ndarray]  # pool name -> row indices into the arrays above


def _people(scale: float, seed: int) -> _People:
    sizes = {"uc": 20_000, "employed": 11_000, "pip": 6_000, "learners": 7_000}
    blocks = [np.arange(21), np.arange(100, 100 + len(_CORNER_EMPLOYMENTS))]
    blocks += [_POOL_BASE[p] + np.arange(round(n * scale)) for p, n in sizes.items()]
    numbers = np.concatenate(blocks).astype(np.int64)
    la = _place(_person_uniform(numbers, seed, 0))
    la[0] = _LA_INDEX["E08000003"]  # the multi-job claimant lives in Manchester
    la[1:21] = [_LA_INDEX[code] for code in _SMALL_AREA_PEOPLE]
    starts = np.cumsum([0] + [len(b) for b in blocks])
    pools = {p: np.arange(starts[i + 2], starts[i + 3]) for i, p in enumerate(sizes)}
    pools["uc"] = np.concatenate([np.arange(21), pools["uc"]])
    pools["corner_employed"] = np.arange(starts[1], starts[2])
    return _People(numbers, person_ids(numbers), _ninos(numbers), la, MappingProxyType(pools))


# ---------------------------------------------------------------- arrow helpers

def _rng(seed: int, dataset: int, part: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, dataset, part]))


def _choice(rng: np.random.Generator, weights: Sequence[float], size: int) -> np.ndarray:
    cum = np.cumsum(weights, dtype=np.float64)
    return np.minimum(np.searchsorted(cum / cum[-1], rng.random(size), side="right"), len(cum) - 1)


def _fixed(values: np.ndarray) -> pa.Array:
    """Fixed-width bytes (all full width) to an Arrow string array without Python objects."""
    offsets = np.arange(len(values) + 1, dtype=np.int32) * values.dtype.itemsize
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets),
                                       pa.py_buffer(np.ascontiguousarray(values).tobytes()))


def _labels(categories: Sequence[str], codes: np.ndarray) -> pa.Array:
    return pa.array(list(categories), pa.string()).take(pa.array(codes))


def _places(la: np.ndarray) -> dict[str, pa.Array]:
    return {"la_code": pa.array(_LA_CODES[la]), "region": pa.array(_LA_REGIONS[la])}


def _dates(start: str, end: str, u: np.ndarray) -> np.ndarray:
    lo, hi = np.datetime64(start), np.datetime64(end)
    return lo + (u * ((hi - lo).astype(int) + 1)).astype(int)


def _table(dataset_id: str, columns: Mapping[str, pa.Array], order: np.ndarray | None) -> pa.Table:
    table = pa.Table.from_pydict(dict(columns), schema=SCHEMAS[dataset_id])
    return table if order is None else table.take(pa.array(order))


# ---------------------------------------------------------------- datasets

def _sorted_by_place(people: _People, rows: np.ndarray) -> np.ndarray:
    return np.lexsort((people.pid[rows], _LA_CODES[people.la[rows]]))


def _uc_claims(people: _People, seed: int) -> tuple[pa.Table, np.ndarray]:
    """One row per claimant; returns the table and each claimant's regime (pool order)."""
    rows = people.pools["uc"]
    numbers, n, rng = people.numbers[rows], len(rows), _rng(seed, 1)
    band = np.minimum(np.searchsorted(np.cumsum([.16, .28, .24, .17, .14, .01]),
                                      _person_uniform(numbers, seed, 1), side="right"), 5)
    lows = np.array([16, 25, 35, 45, 55, 65])
    highs = np.array([24, 34, 44, 54, 64, 75])
    years = lows[band] + (_person_uniform(numbers, seed, 2) * (highs - lows + 1)[band]).astype(int)
    # Counting back from the reference date keeps the exact age equal to `years`.
    anniversaries = np.array([np.datetime64(f"{2025 - y}-04-01") for y in range(76)])
    dob = anniversaries[years] - (_person_uniform(numbers, seed, 3) * 365).astype(int)
    sex = np.where(_person_uniform(numbers, seed, 4) < 0.54, "F", "M")
    covid = rng.random(n) < 0.2
    start = np.where(covid, _dates("2020-03-16", "2020-06-30", rng.random(n)),
                     _dates("2019-01-01", "2025-09-30", rng.random(n)))
    start = np.maximum(start, dob + 5845)  # no claim before the 16th birthday
    regime = _choice(rng, [w for _, w in ref.CONDITIONALITY_REGIMES], n)
    regime[0] = 2  # the multi-job claimant: 'Working - No Requirements'
    award = np.round(300 + 1700 * rng.beta(2.0, 4.5, n), 2)
    opted_out = rng.random(n) < 0.02
    columns = {
        "person_id": _fixed(people.pid[rows]), "nino": _fixed(people.nino[rows]),
        "date_of_birth": dob, "sex": sex, "age_band": _labels(
            [b for b, _ in ref.AGE_BANDS], age_band_index(dob)),
        **_places(people.la[rows]), "claim_start": start,
        "conditionality_regime": _labels([r for r, _ in ref.CONDITIONALITY_REGIMES], regime),
        "award_amount": award, "opted_out": opted_out,
    }
    return _table("dwp.uc_claims", columns, _sorted_by_place(people, rows)), regime


def age_band_index(dob: np.ndarray, on: np.datetime64 = REFERENCE_DATE) -> np.ndarray:
    """Index into reference.AGE_BANDS of each person's completed age on a date."""
    dob = dob.astype("datetime64[D]")
    y, m = dob.astype("datetime64[Y]"), dob.astype("datetime64[M]")
    month_day = (m - y).astype(int) * 100 + (dob - m).astype(int)
    on_y, on_m = on.astype("datetime64[Y]"), on.astype("datetime64[M]")
    on_month_day = (on_m - on_y).astype(int) * 100 + (on - on_m).astype(int)
    age = (on_y - y).astype(int) - (month_day > on_month_day)
    return np.searchsorted([lo for _, lo in ref.AGE_BANDS], age, side="right") - 1


@dataclass(frozen=True)
class _Businesses:
    table: pa.Table
    employer_id: np.ndarray  # S8
    sic: np.ndarray          # index into reference.SIC_CODES
    size: np.ndarray         # index into reference.SIZE_BANDS
    employees: np.ndarray
    corner: np.ndarray       # bool: fixed disclosive businesses, never sampled as employers


_SIZE_PROFILES = {"micro": [.90, .08, .015, .005], "mixed": [.60, .28, .09, .03],
                  "large": [.20, .30, .25, .25]}
_SIC_INDEX = {s[0]: i for i, s in enumerate(ref.SIC_CODES)}


def size_band_index(employees: np.ndarray) -> np.ndarray:
    """Index into reference.SIZE_BANDS for each employee count."""
    return np.searchsorted([lo for _, lo in ref.SIZE_BANDS], employees, side="right") - 1


def _businesses(scale: float, seed: int) -> _Businesses:
    rng, n = _rng(seed, 5), round(4_000 * scale)
    sic = _choice(rng, [s[3] for s in ref.SIC_CODES], n)
    profile = np.array([list(_SIZE_PROFILES[s[4]]) for s in ref.SIC_CODES])[sic]
    band = (rng.random(n)[:, None] > np.cumsum(profile, axis=1)).sum(axis=1).clip(0, 3)
    u = rng.random(n)
    employees = np.select(
        [band == 0, band == 1, band == 2],
        [1 + (u ** 2 * 9).astype(int),  # most micro employers are very small
         (10 * 5 ** u).astype(int), (50 * 5 ** u).astype(int)],
        np.minimum(250 * (1 + rng.pareto(1.1, n)), 60_000).astype(int))
    productivity = np.array([s[5] for s in ref.SIC_CODES])[sic]
    turnover = np.round(np.maximum(employees, 0.5) * productivity * rng.lognormal(0, 0.5, n), 1)
    # A bijection onto E1000000..E8999999 makes ids look issued rather than counted.
    serial = 1_000_000 + (np.arange(n, dtype=np.int64) * 2_654_437 + 12_345) % 8_000_000
    employer_id = np.char.add(b"E", serial.astype("S7"))
    la = _place(rng.random(n))
    corners = _CORNER_BUSINESSES
    employer_id = np.concatenate([employer_id, np.array([c[0] for c in corners], dtype="S8")])
    sic = np.concatenate([sic, [_SIC_INDEX[c[1]] for c in corners]])
    employees = np.concatenate([employees, [c[2] for c in corners]]).astype(np.int32)
    turnover = np.concatenate([turnover, [c[3] for c in corners]])
    la = np.concatenate([la, [_LA_INDEX[c[4]] for c in corners]])
    size = size_band_index(employees)
    sic_codes = [s[0] for s in ref.SIC_CODES]
    columns = {
        "employer_id": _fixed(employer_id), "sic2007": _labels(sic_codes, sic),
        "sic_section": _labels([s[1] for s in ref.SIC_CODES], sic),
        "size_band": _labels([b for b, _ in ref.SIZE_BANDS], size),
        "region": pa.array(_LA_REGIONS[la]), "la_code": pa.array(_LA_CODES[la]),
        "employee_count": employees, "turnover": turnover,
    }
    order = np.lexsort((employer_id, np.array(sic_codes)[sic]))
    corner = np.arange(len(sic)) >= n
    return _Businesses(_table("desnz.businesses", columns, order), employer_id, sic, size,
                       employees, corner)


@dataclass(frozen=True)
class _Spells:
    """Employments: person (row in _People), employer (row in _Businesses), months, pay."""

    person: np.ndarray
    employer: np.ndarray
    first: np.ndarray
    last: np.ndarray
    pay: np.ndarray
    second_job: np.ndarray
    fixed: np.ndarray  # corner employments: no random variation month to month


_EMPLOYMENT_BY_REGIME = np.array([0.55, 0.95, 0.98, 0.45, 0.30, 0.40])
_SIZE_PAY = np.array([0.9, 0.95, 1.0, 1.08])


def _spells(people: _People, biz: _Businesses, regime: np.ndarray, seed: int) -> _Spells:
    rng = _rng(seed, 3)
    uc = people.pools["uc"]
    employed_uc = uc[(rng.random(len(uc)) < _EMPLOYMENT_BY_REGIME[regime]) & (uc != 0)]
    others = people.pools["employed"]
    primary = np.concatenate([employed_uc, others])
    is_uc = np.arange(len(primary)) < len(employed_uc)
    second = rng.random(len(primary)) < np.where(is_uc, 0.08, 0.07)
    person = np.concatenate([primary, primary[second]])
    uc_job = np.concatenate([is_uc, is_uc[second]])
    second_job = np.arange(len(person)) >= len(primary)
    n = len(person)
    full_year = rng.random(n) < np.where(uc_job, 0.45, 0.88)
    first = np.where(full_year, 1, rng.integers(1, 13, n))
    last = np.where(full_year, 12, first + (rng.random(n) * (13 - first)).astype(int))
    median = np.array([s[6] for s in ref.SIC_CODES])
    affinity = np.array([s[7] for s in ref.SIC_CODES])
    weight = np.where(biz.corner, 0.0, biz.employees.astype(np.float64))
    employer = np.where(uc_job, _choice(rng, weight * affinity[biz.sic], n), _choice(rng, weight, n))
    pay = median[biz.sic[employer]] * _SIZE_PAY[biz.size[employer]] * rng.lognormal(0, 0.35, n)
    pay *= np.where(uc_job, rng.lognormal(np.log(0.5), 0.3, n), 1.0)  # claimants work fewer hours
    pay *= np.where(second_job, 0.35, 1.0)
    pay *= np.where(~uc_job & (rng.random(n) < 0.004), rng.lognormal(1.8, 0.5, n), 1.0)
    # The multi-job claimant: several small jobs with different employers, all year.
    multi = rng.choice(np.flatnonzero(weight >= 10), MULTI_JOB_EMPLOYERS, replace=False)
    multi_pay = np.round(rng.uniform(450, 900, MULTI_JOB_EMPLOYERS), 2)
    corner_rows = people.pools["corner_employed"]
    corner_index = {b[0]: i for i, b in enumerate(_CORNER_BUSINESSES)}
    corner_employer = np.flatnonzero(biz.corner)[0] + np.array(
        [corner_index[e] for _, e, _ in _CORNER_EMPLOYMENTS])
    k, c = MULTI_JOB_EMPLOYERS, len(corner_rows)
    return _Spells(
        person=np.concatenate([person, np.zeros(k, int), corner_rows]),
        employer=np.concatenate([employer, multi, corner_employer]),
        first=np.concatenate([first, np.ones(k + c, int)]),
        last=np.concatenate([last, np.full(k + c, 12)]),
        pay=np.concatenate([pay, multi_pay, [g for _, _, g in _CORNER_EMPLOYMENTS]]),
        second_job=np.concatenate([second_job, np.arange(k) > 0, np.zeros(c, bool)]),
        fixed=np.concatenate([np.zeros(n + k, bool), np.ones(c, bool)]))


def _income_tax(gross: np.ndarray, second_job: np.ndarray) -> np.ndarray:
    """Monthly PAYE, 2024-25 rUK bands; second jobs on code BR (20%, no allowance)."""
    taxable = np.maximum(gross - 12_570 / 12, 0)
    basic, higher = 37_700 / 12, (125_140 - 12_570) / 12
    tax = (0.2 * np.minimum(taxable, basic) + 0.4 * np.clip(taxable - basic, 0, higher - basic)
           + 0.45 * np.maximum(taxable - higher, 0))
    return np.round(np.where(second_job, 0.2 * gross, tax), 2)


def _paye_month(people: _People, biz: _Businesses, spells: _Spells, order: np.ndarray,
                month: int, seed: int) -> pa.Table:
    # One generator per month, drawing for every spell, so any month can be built alone.
    rng = _rng(seed, 4, month)
    n = len(order)
    noise = rng.lognormal(0, 0.05, n)  # indexed by spell
    bonus = np.where((month == 12) & (rng.random(n) < 0.1), rng.uniform(1.5, 3.0, n), 1.0)
    active = order[(spells.first[order] <= month) & (spells.last[order] >= month)]
    vary = np.where(spells.fixed[active], 1.0, noise[active] * bonus[active])
    gross = np.round(spells.pay[active] * vary, 2)
    columns = {
        "person_id": _fixed(people.pid[spells.person[active]]),
        "employer_id": _fixed(biz.employer_id[spells.employer[active]]),
        "tax_year": pa.array(np.full(len(active), "2024-25")),
        "tax_month": np.full(len(active), month, np.int16), "gross_pay": gross,
        "tax_paid": _income_tax(gross, spells.second_job[active]),
    }
    return _table("hmrc.paye_employments", columns, None)


def _members(people: _People, rng: np.random.Generator, rates: Mapping[str, float]) -> np.ndarray:
    """Rows of people drawn from each pool at the given rate (rate 1: the whole pool)."""
    pools = [people.pools[p][rng.random(len(people.pools[p])) < r] for p, r in rates.items()]
    return np.concatenate(pools)


def _pip_awards(people: _People, seed: int) -> pa.Table:
    rng = _rng(seed, 2)
    rows = _members(people, rng, {"uc": 0.30, "employed": 0.12, "pip": 1.0})
    n = len(rows)
    condition = _choice(rng, [w for _, w in ref.PIP_CONDITION_GROUPS], n)
    levels = list(ref.PIP_DAILY_LIVING_RATES)
    daily = _choice(rng, [0.10, 0.40, 0.50], n)
    mobility = _choice(rng, [0.30, 0.35, 0.35], n)
    daily[(daily == 0) & (mobility == 0)] = 1  # an award has at least one component
    weekly = (np.array(list(ref.PIP_DAILY_LIVING_RATES.values()))[daily]
              + np.array(list(ref.PIP_MOBILITY_RATES.values()))[mobility])
    columns = {
        "person_id": _fixed(people.pid[rows]), "nino": _fixed(people.nino[rows]),
        **_places(people.la[rows]),
        "health_condition_group": _labels([g for g, _ in ref.PIP_CONDITION_GROUPS], condition),
        "daily_living_award": _labels(levels, daily), "mobility_award": _labels(levels, mobility),
        "award_start": _dates("2019-06-01", "2025-03-31", rng.random(n)),
        "weekly_amount": np.round(weekly, 2),
    }
    return _table("dwp.pip_awards", columns, _sorted_by_place(people, rows))


def _learners(people: _People, scale: float, seed: int) -> pa.Table:
    rng = _rng(seed, 6)
    learners = _members(people, rng, {"uc": 0.10, "employed": 0.05, "learners": 1.0})
    aims = 1 + _choice(rng, [0.70, 0.22, 0.08], len(learners))
    rows = np.repeat(learners, aims)
    n = len(rows)
    on_uc = np.isin(rows, people.pools["uc"])
    level = np.where(on_uc, _choice(rng, [.20, .25, .30, .20, .05], n),
                     _choice(rng, [.08, .15, .33, .30, .14], n))
    providers = int(np.clip(round(250 * scale), 20, 2_000))
    provider = _choice(rng, rng.pareto(1.2, providers) + 0.05, n)
    subject = _choice(rng, [w for _, w in ref.SUBJECT_AREAS], n)
    columns = {
        "person_id": _fixed(people.pid[rows]), "academic_year": np.full(n, "2024/25"),
        "qualification_level": _labels(ref.QUALIFICATION_LEVELS, level),
        "provider_id": pa.array((10_000_001 + provider).astype(str)),
        "subject_area": _labels([s for s, _ in ref.SUBJECT_AREAS], subject),
        "achieved": rng.random(n) < np.where(on_uc, 0.75, 0.86), **_places(people.la[rows]),
    }
    return _table("dfe.learners", columns, _sorted_by_place(people, rows))


# ---------------------------------------------------------------- writing

def _write(path: Path, tables: Sequence[pa.Table]) -> None:
    """Write row groups of ROW_GROUP_SIZE; replace atomically so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, tables[0].schema, compression="zstd") as writer:
        for table in tables:
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    os.replace(tmp, path)


def _part(out_dir: Path, dataset_id: str, i: int) -> Path:
    return out_dir / _LAYOUT[dataset_id][0] / f"part-{i:04d}.parquet"


def generate(out_dir: Path, *, scale: float = 1.0, seed: int = DEFAULT_SEED) -> DemoData:
    """Write all five datasets under out_dir and return what was written."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ".complete").unlink(missing_ok=True)
    people = _people(scale, seed)
    biz = _businesses(scale, seed)
    uc, regime = _uc_claims(people, seed)
    half = (uc.num_rows + 1) // 2
    _write(_part(out_dir, "dwp.uc_claims", 0), [uc.slice(0, half)])
    _write(_part(out_dir, "dwp.uc_claims", 1), [uc.slice(half)])
    del uc
    _write(_part(out_dir, "desnz.businesses", 0), [biz.table])
    _write(_part(out_dir, "dwp.pip_awards", 0), [_pip_awards(people, seed)])
    _write(_part(out_dir, "dfe.learners", 0), [_learners(people, scale, seed)])
    spells = _spells(people, biz, regime, seed)
    # Within a month rows run by employer then person, so employer_id statistics help too.
    order = np.lexsort((people.pid[spells.person], biz.employer_id[spells.employer]))
    for quarter in range(4):
        months = range(3 * quarter + 1, 3 * quarter + 4)
        _write(_part(out_dir, "hmrc.paye_employments", quarter),
               [_paye_month(people, biz, spells, order, m, seed) for m in months])
    data = _describe(out_dir, scale, seed)
    manifest = {"version": GENERATOR_VERSION, "scale": scale, "seed": seed, "datasets": {
        d.dataset_id: {"paths": [str(p.relative_to(out_dir)) for p in d.paths],
                       "rows": d.rows, "bytes": d.bytes} for d in data.datasets.values()}}
    (out_dir / ".complete").write_text(json.dumps(manifest, indent=2) + "\n")
    return data


def _describe(out_dir: Path, scale: float, seed: int) -> DemoData:
    datasets = {}
    for dataset_id, (_, parts) in _LAYOUT.items():
        paths = tuple(_part(out_dir, dataset_id, i) for i in range(parts))
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
        datasets[dataset_id] = DatasetFiles(dataset_id, paths, rows, sum(p.stat().st_size for p in paths))
    return DemoData(out_dir, scale, seed, MappingProxyType(datasets))


def ensure_generated(out_dir: Path, scale: float = 1.0, seed: int = DEFAULT_SEED) -> DemoData:
    """Generate unless out_dir already holds complete data for this scale, seed and version."""
    out_dir = Path(out_dir)
    try:
        manifest = json.loads((out_dir / ".complete").read_text())
        if (manifest["version"], manifest["scale"], manifest["seed"]) == (GENERATOR_VERSION, scale, seed):
            datasets = {
                dataset_id: DatasetFiles(dataset_id, tuple(out_dir / p for p in d["paths"]),
                                         d["rows"], d["bytes"])
                for dataset_id, d in manifest["datasets"].items()}
            if set(datasets) == set(_LAYOUT) and all(
                    sum(p.stat().st_size for p in d.paths) == d.bytes for d in datasets.values()):
                return DemoData(out_dir, scale, seed, MappingProxyType(datasets))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, partial or foreign manifest: regenerate
    return generate(out_dir, scale=scale, seed=seed)
