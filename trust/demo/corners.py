"""The deliberately disclosive corners, fixed whatever the scale and seed.

Disclosure control needs something to catch, so these are planted on purpose:

* ``SMALL_AREA_CLAIMANTS``: Isles of Scilly has exactly 3 UC claimants, City of London 7,
  Rutland 10 (the boundary: a cell of 10 passes). No other claimant lives there, and none
  of them has opted out, so the counts survive DWP's opt-out row filter.
* ``SINGLE_DOMINANCE_SIC`` (06100): one business holds ``SINGLE_DOMINANT_SHARE`` (94%)
  of the sector's turnover; the whole of SIC section B is these four businesses.
* ``TWO_DOMINANCE_SIC`` (19201): two businesses hold ``TWO_DOMINANT_SHARE`` (95.1%).
* ``PAYE_DOMINANCE_SIC`` (35110): ``PAYE_DOMINANT_EMPLOYER`` pays ``PAYE_DOMINANT_SHARE``
  (94.6%) of the sector's gross pay, every month; section D holds only these employers.
* ``MULTI_JOB_PERSON``: a UC claimant with ``MULTI_JOB_EMPLOYERS`` employers in every
  tax month, so contributions must be summed per person before dominance is judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

ISLES_OF_SCILLY, CITY_OF_LONDON, RUTLAND = "E06000053", "E09000001", "E06000017"
SMALL_AREA_CLAIMANTS: Mapping[str, int] = MappingProxyType({ISLES_OF_SCILLY: 3, CITY_OF_LONDON: 7, RUTLAND: 10})
MULTI_JOB_PERSON = 0  # person number; lives in MULTI_JOB_LA
MULTI_JOB_LA = "E08000003"  # Manchester
MULTI_JOB_EMPLOYERS = 8

# (employer_id, sic2007, employee_count, turnover in GBP thousands, la_code)
CORNER_BUSINESSES: tuple[tuple[str, str, int, float, str], ...] = (
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
CORNER_EMPLOYMENTS: tuple[tuple[int, str, float], ...] = (
    *((100 + k, "E9000021", 4_800.0 + 100 * k) for k in range(30)),
    (130, "E9000022", 2_100.0),
    (131, "E9000022", 2_250.0),
    (132, "E9000022", 2_400.0),
    (133, "E9000023", 1_950.0),
    (134, "E9000023", 2_050.0),
)


def _share(values: Mapping[str, float], top: Sequence[str]) -> float:
    return sum(values[k] for k in top) / sum(values.values())


SINGLE_DOMINANCE_SIC, SINGLE_DOMINANT_EMPLOYER = "06100", "E9000001"
TWO_DOMINANCE_SIC, TWO_DOMINANT_EMPLOYERS = "19201", ("E9000011", "E9000012")
PAYE_DOMINANCE_SIC, PAYE_DOMINANT_EMPLOYER = "35110", "E9000021"
SINGLE_DOMINANT_SHARE = _share({b[0]: b[3] for b in CORNER_BUSINESSES if b[1] == "06100"}, [SINGLE_DOMINANT_EMPLOYER])
TWO_DOMINANT_SHARE = _share({b[0]: b[3] for b in CORNER_BUSINESSES if b[1] == "19201"}, TWO_DOMINANT_EMPLOYERS)
PAYE_DOMINANT_SHARE = _share(
    {e: sum(g for _, e2, g in CORNER_EMPLOYMENTS if e2 == e) for _, e, _ in CORNER_EMPLOYMENTS},
    [PAYE_DOMINANT_EMPLOYER],
)
