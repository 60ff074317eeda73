"""What the attacker (and the ground truth) know about a dataset from the public catalogue.

Read straight from ``catalog/*.yaml``, not through the trust: column roles and the unit key are
published to every analyst, and the audit must not depend on the trust's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).absolute().parents[2]


@dataclass(frozen=True)
class DatasetInfo:
    id: str  # e.g. dwp.uc_claims
    unit_key: str
    roles: dict[str, str]  # column -> role (dimension, measure, linkage_key, direct_identifier)

    @property
    def schema(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.id.split(".", 1)[1]

    def is_measure(self, column: str) -> bool:
        return self.roles.get(column) == "measure"

    def parquet(self, data_dir: Path) -> str:
        """The dataset's files as the demo generator lays them out (``data_dir/dwp/uc_claims/*.parquet``)."""
        return str(data_dir / self.schema / self.table / "*.parquet")


@cache
def datasets() -> dict[str, DatasetInfo]:
    out = {}
    for path in sorted((REPO_ROOT / "catalog").glob("*.yaml")):
        for ds in yaml.safe_load(path.read_text(encoding="utf-8"))["datasets"]:
            roles = {name: spec.get("role", "dimension") for name, spec in ds["columns"].items()}
            out[ds["id"]] = DatasetInfo(ds["id"], ds["unit_key"], roles)
    return out


def dataset(dataset_id: str) -> DatasetInfo:
    try:
        return datasets()[dataset_id]
    except KeyError:
        raise KeyError(f"{dataset_id} is not in the catalogue ({sorted(datasets())})") from None
