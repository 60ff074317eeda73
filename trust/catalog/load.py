"""Read registrations from ``catalog/*.yaml``: one file per department, validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import yaml

from trust.catalog.model import Catalog, Dataset
from trust.errors import ConfigurationError


def load_catalog(directory: Path) -> Catalog:
    """Every dataset registered in ``directory``; locations still hold their ``${NAME}`` placeholders."""
    if not directory.is_dir():
        raise ConfigurationError(f"Catalogue folder {directory} does not exist. Set catalog_dir in trust.toml.")
    datasets: dict[str, Dataset] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark else ""
            raise ConfigurationError(f"{path.name}{line}: not valid YAML. Fix the file and retry.") from None
        if not isinstance(raw, dict) or "department" not in raw or "datasets" not in raw:
            raise ConfigurationError(f"{path.name}: needs 'department' and 'datasets' at the top level.")
        for entry in raw["datasets"]:
            ds = Dataset.from_yaml(entry, str(raw["department"]), path.name)
            if ds.id in datasets:
                raise ConfigurationError(f"{path.name}: dataset {ds.id} is registered twice.")
            datasets[ds.id] = ds
    if not datasets:
        raise ConfigurationError(f"No datasets registered in {directory}.")
    return Catalog(datasets)
