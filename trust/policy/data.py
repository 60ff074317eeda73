"""Policy data: each ``policies/data/*.json|yaml`` file becomes ``data.<file stem>`` for the Rego rules.

Read here without regopy, so the service can read projects and gateways without loading the engine
that evaluates rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from trust.errors import ConfigurationError


def policy_data(directory: Path) -> dict[str, Any]:
    """Policy data: each ``data/*.json|yaml`` file becomes ``data.<file stem>``."""
    data: dict[str, Any] = {}
    for path in sorted((directory / "data").glob("*")):
        if path.suffix not in {".json", ".yaml", ".yml"}:
            continue
        try:
            data[path.stem] = (
                json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
            )
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ConfigurationError(
                f"Policy data {path.name} is not valid: {exc}. Fix it and run `trust policy check`."
            ) from None
    return data
