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

The extracts are as wide as real ones (UC claims and PAYE have 25-35 columns), so a query
that needs a few columns reads a small part of each file. The pieces:

* ``trust.demo.people``: one population shared by every department (same person, same
  ``person_id``, NINO, place and birth date everywhere);
* ``trust.demo.dwp``, ``hmrc``, ``dfe``, ``desnz``: each department's datasets;
* ``trust.demo.corners``: the deliberately disclosive corners disclosure control must catch
  (small areas, dominant businesses and employers, the multi-job claimant).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from types import MappingProxyType

import pyarrow as pa
import pyarrow.parquet as pq

from trust.demo import desnz, dfe, dwp, hmrc
from trust.demo.corners import (
    CITY_OF_LONDON,
    ISLES_OF_SCILLY,
    MULTI_JOB_EMPLOYERS,
    PAYE_DOMINANCE_SIC,
    PAYE_DOMINANT_EMPLOYER,
    PAYE_DOMINANT_SHARE,
    RUTLAND,
    SINGLE_DOMINANCE_SIC,
    SINGLE_DOMINANT_EMPLOYER,
    SINGLE_DOMINANT_SHARE,
    SMALL_AREA_CLAIMANTS,
    TWO_DOMINANCE_SIC,
    TWO_DOMINANT_EMPLOYERS,
    TWO_DOMINANT_SHARE,
)
from trust.demo.desnz import size_band_index
from trust.demo.people import MULTI_JOB_PERSON_ID, REFERENCE_DATE, age_band_index, people, person_ids

__all__ = [
    "DatasetFiles",
    "DemoData",
    "generate",
    "ensure_generated",
    "person_ids",
    "age_band_index",
    "size_band_index",
    "SCHEMAS",
    "GENERATOR_VERSION",
    "DEFAULT_SEED",
    "ROW_GROUP_SIZE",
    "REFERENCE_DATE",
    "ISLES_OF_SCILLY",
    "CITY_OF_LONDON",
    "RUTLAND",
    "SMALL_AREA_CLAIMANTS",
    "SINGLE_DOMINANCE_SIC",
    "SINGLE_DOMINANT_EMPLOYER",
    "SINGLE_DOMINANT_SHARE",
    "TWO_DOMINANCE_SIC",
    "TWO_DOMINANT_EMPLOYERS",
    "TWO_DOMINANT_SHARE",
    "PAYE_DOMINANCE_SIC",
    "PAYE_DOMINANT_EMPLOYER",
    "PAYE_DOMINANT_SHARE",
    "MULTI_JOB_PERSON_ID",
    "MULTI_JOB_EMPLOYERS",
]

GENERATOR_VERSION = 3  # bump when output changes, so ensure_generated regenerates
DEFAULT_SEED = 20261121
ROW_GROUP_SIZE = 16_384

SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType({**dwp.SCHEMAS, **hmrc.SCHEMAS, **dfe.SCHEMAS, **desnz.SCHEMAS})
_LAYOUT: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        "dwp.uc_claims": ("dwp/uc_claims", 2),
        "dwp.pip_awards": ("dwp/pip_awards", 1),
        "hmrc.paye_employments": ("hmrc/paye_employments", 4),
        "dfe.learners": ("dfe/learners", 1),
        "desnz.businesses": ("desnz/businesses", 1),
    }
)


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


# Unique (or nearly) within a row group, so a dictionary would only cost time and space.
_UNIQUE_PER_ROW = frozenset({"person_id", "nino", "submission_id"})


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary encoding: categories, flags, small counts and dates, but not
    identifiers, amounts or timestamps (writing those plain is faster and compresses better)."""
    return [
        f.name
        for f in schema
        if not (pa.types.is_floating(f.type) or pa.types.is_timestamp(f.type)) and f.name not in _UNIQUE_PER_ROW
    ]


def _write(path: Path, tables: Iterable[pa.Table]) -> None:
    """Write row groups of ROW_GROUP_SIZE, one table at a time; replace atomically so readers
    never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(
                    tmp, table.schema, compression="zstd", use_dictionary=_dictionary_columns(table.schema)
                )
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    finally:
        if writer is not None:
            writer.close()
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
    pop = people(scale, seed)
    biz = desnz.businesses(scale, seed)
    _write(_part(out_dir, "desnz.businesses", 0), [biz.table])
    _write(_part(out_dir, "dfe.learners", 0), [dfe.learners(pop, scale, seed)])
    claimants = dwp.claimants(pop, seed)
    pip, pip_rows = dwp.pip_awards(pop, claimants, seed)
    _write(_part(out_dir, "dwp.pip_awards", 0), [pip])
    del pip
    spells = hmrc.spells(pop, biz, claimants.regime, seed)
    month = dwp.LATEST_TAX_MONTH
    employed = hmrc.employed_in(spells, len(pop.numbers), month)
    net = hmrc.net_earnings(spells, len(pop.numbers), month, seed)
    parts = _LAYOUT["dwp.uc_claims"][1]
    for i, table in enumerate(dwp.uc_claims(pop, claimants, pip_rows, employed, net, seed, parts)):
        _write(_part(out_dir, "dwp.uc_claims", i), [table])
    del table
    # A file per tax quarter, written a chunk at a time: scale 50 never holds a month in memory.
    tables = hmrc.paye_tables(pop, biz, spells, seed, chunk_rows=16 * ROW_GROUP_SIZE)
    for quarter, chunks in groupby(tables, key=lambda month_table: (month_table[0] - 1) // 3):
        _write(_part(out_dir, "hmrc.paye_employments", quarter), (table for _, table in chunks))
    data = _describe(out_dir, scale, seed)
    manifest = {
        "version": GENERATOR_VERSION,
        "scale": scale,
        "seed": seed,
        "datasets": {
            d.dataset_id: {"paths": [str(p.relative_to(out_dir)) for p in d.paths], "rows": d.rows, "bytes": d.bytes}
            for d in data.datasets.values()
        },
    }
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
                dataset_id: DatasetFiles(dataset_id, tuple(out_dir / p for p in d["paths"]), d["rows"], d["bytes"])
                for dataset_id, d in manifest["datasets"].items()
            }
            if set(datasets) == set(_LAYOUT) and all(
                sum(p.stat().st_size for p in d.paths) == d.bytes for d in datasets.values()
            ):
                return DemoData(out_dir, scale, seed, MappingProxyType(datasets))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, partial or foreign manifest: regenerate
    return generate(out_dir, scale=scale, seed=seed)
