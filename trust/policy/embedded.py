"""The decision point, evaluated in-process by regopy. The policy is compiled once and reused."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import regopy
import yaml

from trust.errors import ConfigurationError
from trust.policy.decision import Decision

QUERY = "data.trust.decision"


def policy_modules(directory: Path) -> list[Path]:
    """Every Rego module under ``directory`` except tests (``*_test.rego``)."""
    return sorted(p for p in directory.rglob("*.rego") if not p.name.endswith("_test.rego"))


def policy_data(directory: Path) -> dict[str, Any]:
    """Policy data: each ``data/*.json|yaml`` file becomes ``data.<file stem>``."""
    data: dict[str, Any] = {}
    for path in sorted((directory / "data").glob("*")):
        if path.suffix not in {".json", ".yaml", ".yml"}:
            continue
        try:
            data[path.stem] = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"Policy data {path.name} is not valid: {exc}. Fix it and run `trust policy check`.") from None
    return data


class EmbeddedPolicy:
    """Rego modules and data from ``policies/``, built once into a regopy bundle."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._rego = regopy.Interpreter()
        modules = policy_modules(directory)
        if not modules:
            raise ConfigurationError(f"No Rego modules in {directory}. Set policies_dir in trust.toml.")
        try:
            for path in modules:
                self._rego.add_module(str(path.relative_to(directory)), path.read_text())
            self._rego.add_data_json(json.dumps(policy_data(directory)))
            self._bundle = self._rego.build(QUERY)
        except regopy.RegoError as exc:
            raise ConfigurationError(f"The policy does not compile: {exc}. Run `trust policy check`.") from None

    def evaluate(self, document: dict[str, Any]) -> Any:
        with self._lock:
            self._rego.set_input(regopy.Input(document))
            output = self._rego.query_bundle(self._bundle)
        if not output.ok():
            raise ConfigurationError(f"The policy failed to evaluate: {output}")
        results = json.loads(str(output))
        if "expressions" in results:
            return results["expressions"][0]
        return results["result"][0]["expressions"][0]["value"] if results.get("result") else None

    def decide(self, document: dict[str, Any]) -> Decision:
        """The decision for one input document; any failure denies (fails closed)."""
        try:
            return Decision.from_json(self.evaluate(document))
        except ConfigurationError as exc:
            return Decision(allow=False, deny=({"rule": "trust.policy_error", "message": f"{exc} The query is refused."},))
