"""Loading the SQL corpus (tests/sql/corpus/*.yaml): cases as data, checked for shape on load.

Shared by the end-to-end corpus test, the golden policy-input test and the gatekeeper benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).parent / "corpus"
CATEGORIES = (
    "file_access",
    "side_effects",
    "multiple_statements",
    "introspection",
    "row_level",
    "identifiers",
    "individual_values",
    "narrowing",
    "differencing",
    "smuggling",
    "error_echo",
    "resource",
    "quoting_unicode",
    "parser_mismatch",
)
PROJECTS = {"ana": "demo-employment-support", "bob": "demo-dwp-caseload"}
CASE_KEYS = {"id", "category", "user", "project", "sql", "expect", "rule", "suppressed", "truth", "note", "golden"}
CONTROL_KEYS = {"id", "user", "project", "sql", "direct", "note", "golden"}


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    sql: str
    expect: str  # refused | safe
    rules: tuple[str, ...] = ()  # for refused: any of these (the error's context rule, or its class name)
    user: str = "ana"
    project: str = "demo-employment-support"
    suppressed: bool = False  # for safe: at least one cell must have been suppressed
    truth: str | None = None  # for safe: direct SQL giving each row's keys and its true fewest units
    golden: bool = False  # its policy input document is kept in corpus/policy_inputs/
    note: str = ""
    file: str = ""


@dataclass(frozen=True)
class Control:
    id: str
    sql: str
    direct: str | None = None  # the same question for plain DuckDB, when the trust's SQL is not valid there
    user: str = "ana"
    project: str = "demo-employment-support"
    golden: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _load(path: Path) -> list[dict[str, Any]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path.name}: the file must be a YAML list of cases")
    return raw


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CORPUS.glob("*.yaml")):
        if path.name == "control.yaml":
            continue
        for raw in _load(path):
            unknown = set(raw) - CASE_KEYS
            if unknown:
                raise ValueError(f"{path.name} {raw.get('id')}: unknown keys {sorted(unknown)}")
            if raw.get("category") not in CATEGORIES:
                raise ValueError(f"{path.name} {raw.get('id')}: category must be one of {CATEGORIES}")
            if raw.get("expect") not in {"refused", "safe"}:
                raise ValueError(f"{path.name} {raw.get('id')}: expect must be 'refused' or 'safe'")
            rule = raw.get("rule")
            if (raw["expect"] == "refused") != (rule is not None):
                raise ValueError(f"{path.name} {raw.get('id')}: a refused case names its rule; a safe case does not")
            user = raw.get("user", "ana")
            cases.append(
                Case(
                    id=raw["id"],
                    category=raw["category"],
                    sql=raw["sql"],
                    expect=raw["expect"],
                    rules=tuple(rule) if isinstance(rule, list) else (rule,) if rule else (),
                    user=user,
                    project=raw.get("project", PROJECTS[user]),
                    suppressed=bool(raw.get("suppressed", False)),
                    truth=raw.get("truth"),
                    golden=bool(raw.get("golden", False)),
                    note=raw.get("note", ""),
                    file=path.name,
                )
            )
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate case ids: {duplicates}")
    return cases


def load_controls() -> list[Control]:
    controls = []
    for raw in _load(CORPUS / "control.yaml"):
        unknown = set(raw) - CONTROL_KEYS
        if unknown:
            raise ValueError(f"control.yaml {raw.get('id')}: unknown keys {sorted(unknown)}")
        user = raw.get("user", "ana")
        controls.append(
            Control(
                id=raw["id"],
                sql=raw["sql"],
                direct=raw.get("direct"),
                user=user,
                project=raw.get("project", PROJECTS[user]),
                golden=bool(raw.get("golden", False)),
                note=raw.get("note", ""),
            )
        )
    ids = [c.id for c in controls]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate control ids")
    return controls
