"""DESNZ's business register (``desnz.businesses``): one row per employer, sorted by SIC.

Employers here are the employers on HMRC's PAYE records, so both departments agree on
``employer_id``; the corner businesses of ``trust.demo.corners`` are appended unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trust.demo import arrays
from trust.demo import reference as ref
from trust.demo.corners import CORNER_BUSINESSES
from trust.demo.people import LA_CODES, LA_INDEX, LA_REGIONS, place

_S = pa.string()
SCHEMAS: dict[str, pa.Schema] = {
    "desnz.businesses": pa.schema(
        [
            ("employer_id", _S),
            ("sic2007", _S),
            ("sic_section", _S),
            ("size_band", _S),
            ("region", _S),
            ("la_code", _S),
            ("employee_count", pa.int32()),
            ("turnover", pa.float64()),
        ]
    ),
}

_SIZE_PROFILES = {
    "micro": [0.90, 0.08, 0.015, 0.005],
    "mixed": [0.60, 0.28, 0.09, 0.03],
    "large": [0.20, 0.30, 0.25, 0.25],
}
SIC_INDEX = {s[0]: i for i, s in enumerate(ref.SIC_CODES)}


@dataclass(frozen=True)
class Businesses:
    table: pa.Table
    employer_id: np.ndarray  # S8
    sic: np.ndarray  # index into reference.SIC_CODES
    size: np.ndarray  # index into reference.SIZE_BANDS
    employees: np.ndarray
    corner: np.ndarray  # bool: fixed disclosive businesses, never sampled as employers


def size_band_index(employees: np.ndarray) -> np.ndarray:
    """Index into reference.SIZE_BANDS for each employee count."""
    return np.searchsorted([lo for _, lo in ref.SIZE_BANDS], employees, side="right") - 1


def businesses(scale: float, seed: int) -> Businesses:
    gen, n = arrays.rng(seed, 5), round(4_000 * scale)
    sic = arrays.choice(gen, [s[3] for s in ref.SIC_CODES], n)
    profile = np.array([list(_SIZE_PROFILES[s[4]]) for s in ref.SIC_CODES])[sic]
    band = (gen.random(n)[:, None] > np.cumsum(profile, axis=1)).sum(axis=1).clip(0, 3)
    u = gen.random(n)
    employees = np.select(
        [band == 0, band == 1, band == 2],
        [
            1 + (u**2 * 9).astype(int),  # most micro employers are very small
            (10 * 5**u).astype(int),
            (50 * 5**u).astype(int),
        ],
        np.minimum(250 * (1 + gen.pareto(1.1, n)), 60_000).astype(int),
    )
    productivity = np.array([s[5] for s in ref.SIC_CODES])[sic]
    turnover = np.round(np.maximum(employees, 0.5) * productivity * gen.lognormal(0, 0.5, n), 1)
    # A bijection onto E1000000..E8999999 makes ids look issued rather than counted.
    serial = 1_000_000 + (np.arange(n, dtype=np.int64) * 2_654_437 + 12_345) % 8_000_000
    employer_id = np.char.add(b"E", serial.astype("S7"))
    la = place(gen.random(n))
    corners = CORNER_BUSINESSES
    employer_id = np.concatenate([employer_id, np.array([c[0] for c in corners], dtype="S8")])
    sic = np.concatenate([sic, [SIC_INDEX[c[1]] for c in corners]])
    employees = np.concatenate([employees, [c[2] for c in corners]]).astype(np.int32)
    turnover = np.concatenate([turnover, [c[3] for c in corners]])
    la = np.concatenate([la, [LA_INDEX[c[4]] for c in corners]])
    size = size_band_index(employees)
    sic_codes = [s[0] for s in ref.SIC_CODES]
    columns = {
        "employer_id": arrays.fixed(employer_id),
        "sic2007": arrays.labels(sic_codes, sic),
        "sic_section": arrays.labels([s[1] for s in ref.SIC_CODES], sic),
        "size_band": arrays.labels([b for b, _ in ref.SIZE_BANDS], size),
        "region": pa.array(LA_REGIONS[la]),
        "la_code": pa.array(LA_CODES[la]),
        "employee_count": employees,
        "turnover": turnover,
    }
    order = np.lexsort((employer_id, np.array(sic_codes)[sic]))
    corner = np.arange(len(sic)) >= n
    table = arrays.table(SCHEMAS["desnz.businesses"], columns).take(pa.array(order))
    return Businesses(table, employer_id, sic, size, employees, corner)
