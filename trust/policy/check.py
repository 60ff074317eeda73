"""``trust policy check``: validate the Rego modules and policy data before they go live.

    >>> for problem in check_policies(Path("policies"), catalog):   # doctest: +SKIP
    ...     print(problem)
    policies/data/projects.json:12:5: error: project demo-x: expires '2027-13-01' is not a date (YYYY-MM-DD)

Problems are reported like a compiler's, ``file:line:column: severity: message``:

- syntax errors in any module (tests included), each once, with the file, line and column
  (``compile_problems``, which ``trust policy test`` uses too);
- the whole policy must compile, and must give a decision for a probe of every project and
  organisation, with row filters and masks that are valid SQL over the dataset's columns, and the
  same decision by way of ``data.trust.partial_decision`` (thresholds worked out in Python) as
  ``data.trust.decision`` gives whole;
- policy data: valid JSON/YAML; projects name real datasets, columns and dates; organisations'
  areas are ONS codes; department settings name real datasets and columns; disclosure
  thresholds are in range;
- warnings for Rego that regopy 1.5.2 mis-evaluates (sprintf, ``with input as``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regopy
import yaml

from trust.catalog.model import Catalog, Role
from trust.errors import TrustError, did_you_mean
from trust.policy.decision import Decision
from trust.policy.embedded import (
    PARTIAL,
    QUERY,
    EmbeddedPolicy,
    compile_error,
    engine_output,
    new_interpreter,
    policy_modules,
    read_modules,
    test_modules,
)

AREA_CODE = re.compile(r"^[EWSN]\d{8}$")
ORGANISATION_TYPES = ("department", "statistics_body", "council", "strategic_authority")
AGGREGATES = ("min", "max", "median", "quantile")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    severity: str  # error | warning
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class _Report:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []
        self.texts: dict[str, str] = {}

    def name(self, path: Path) -> str:
        return str(path.relative_to(self.directory.parent)) if path.is_absolute() else str(path)

    def add(self, file: str, line: int, column: int, severity: str, message: str) -> None:
        self.problems.append(Problem(file, line, column, severity, message))

    def at(self, file: str, path: Iterable[str], severity: str, message: str) -> None:
        """A problem located at a key path in a data file (the first match, in order)."""
        text, offset = self.texts.get(file, ""), 0
        for key in path:
            found = text.find(json.dumps(key), offset)
            if found < 0:
                found = text.find(f"{key}:", offset)  # YAML
            if found >= 0:
                offset = found
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        self.add(file, line, column, severity, message)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")


def _position(source: str, offset: int) -> tuple[int, int]:
    return source.count("\n", 0, offset) + 1, offset - (source.rfind("\n", 0, offset) + 1) + 1


_ERROR_AT = re.compile(r"\(error \d+:([^|\n]*)\|(\d+)\|\d+\s*\(errormsg \d+:([^\n]*)\)")
_PRINTED_ERROR = re.compile(r"^([^\n]+)\n-- (\S+?):(\d+):(\d+)", re.M)


def compile_problems(
    exc: regopy.RegoError, printed: str, sources: Mapping[str, str], prefix: str = ""
) -> list[Problem]:
    """Each compile error once, as ``file:line:column: error: message`` (errors on one line are one problem).

    regopy reports each error in its exception (file and character offset) and prints it with its
    line and column; a module compiled for several purposes repeats them, so they are deduplicated
    here. ``sources`` are the module texts by name; ``prefix`` goes before each file name.
    """
    found: list[tuple[str, int, int, str]] = []
    for file, offset, message in _ERROR_AT.findall(str(exc)):
        if file in sources:
            found.append((file, *_position(sources[file], int(offset)), message.strip()))
    if not found:
        for message, file, line, column in _PRINTED_ERROR.findall(printed):
            found.append((file, int(line), int(column), message.strip()))
    by_line: dict[tuple[str, int], tuple[int, list[str]]] = {}
    for file, line, column, message in found:
        first, messages = by_line.setdefault((file, line), (column, []))
        if message not in messages:
            messages.append(message)
    problems = [
        Problem(f"{prefix}{file}", line, column, "error", "; ".join(messages))
        for (file, line), (column, messages) in by_line.items()
    ]
    if not problems:
        problems.append(Problem(prefix.rstrip("/") or ".", 1, 1, "error", compile_error(exc)))
    return problems  # in the engine's order: the first is where it first lost its way


# -- Rego ------------------------------------------------------------------------------------------


def _check_module(report: _Report, path: Path, rego: regopy.Interpreter) -> bool:
    name = str(path.relative_to(report.directory))
    source = path.read_text()
    shown = report.name(path)
    try:
        with engine_output() as printed:
            rego.add_module(name, source)
    except regopy.RegoError as exc:
        for problem in compile_problems(exc, "".join(printed), {name: source}):
            report.add(shown, problem.line, problem.column, "error", f"syntax: {problem.message}")
        return False

    def code(match: re.Match[str]) -> bool:  # not inside a comment
        return "#" not in source[source.rfind("\n", 0, match.start()) + 1 : match.start()]

    for match in filter(code, re.finditer(r"\bsprintf\(", source)):
        if not path.name.endswith("_test.rego"):
            line, column = _position(source, match.start())
            report.add(
                shown,
                line,
                column,
                "warning",
                "sprintf: regopy 1.5.2 adds stray quotes to strings that other "
                "built-ins produced; build text with lib.text([...]) (concat) instead",
            )
    for match in filter(code, re.finditer(r"\bwith\s+input\s+as\b", source)):
        line, column = _position(source, match.start())
        report.add(
            shown,
            line,
            column,
            "warning",
            "`with input as ...` mis-evaluates in regopy 1.5.2; set the input "
            "one part at a time: `with input.identity as who with input.query as q`",
        )
    return True


def _check_rego(report: _Report, data: Mapping[str, Any]) -> EmbeddedPolicy | None:
    """Syntax of every module (tests too), then the policy itself must build.

    Test modules are only parsed here: compiling them is slow in regopy, and `trust policy test`
    compiles and runs them.
    """
    paths = policy_modules(report.directory) + test_modules(report.directory)
    if not paths:
        report.add(report.name(report.directory), 1, 1, "error", "no Rego modules found")
        return None
    parser = regopy.Interpreter()
    ok = [_check_module(report, p, parser) for p in paths]
    if not all(ok):
        return None
    modules = {str(p.relative_to(report.directory)): p.read_text() for p in policy_modules(report.directory)}
    _check_composition(report, modules)
    try:
        with engine_output() as printed:
            new_interpreter(modules, data).build(QUERY)
    except regopy.RegoError as exc:
        for problem in compile_problems(exc, "".join(printed), modules):
            file = report.name(report.directory / problem.file)
            report.add(file, problem.line, problem.column, "error", f"the policy does not compile: {problem.message}")
        return None
    try:
        return EmbeddedPolicy(report.directory, modules=modules, data=dict(data))
    except TrustError as exc:
        report.add(report.name(report.directory), 1, 1, "error", exc.message)
        return None


_DEPARTMENT_PACKAGE = re.compile(r"^package\s+trust\.departments\.(\w+)\s*$", re.M)
CONTRIBUTIONS = ("deny", "row_filters", "column_masks", "disclosure")


def _check_composition(report: _Report, modules: Mapping[str, str]) -> None:
    """Every department module must be composed into the decision by policies/trust.rego."""
    composer = modules.get("trust.rego", "")
    for name, source in modules.items():
        found = _DEPARTMENT_PACKAGE.search(source)
        if not found:
            continue
        dept = found.group(1)
        missing = [k for k in CONTRIBUTIONS if f"data.trust.departments.{dept}.{k}" not in composer]
        if missing:
            line, column = _position(source, found.start())
            report.add(
                report.name(report.directory / name),
                line,
                column,
                "error",
                f"department module trust.departments.{dept} is not composed into the decision: add "
                f"`<kind> contains x if some x in data.trust.departments.{dept}.<kind>` to policies/trust.rego "
                f"for {', '.join(missing)}; until then its rules are ignored",
            )


def _rule_location(report: _Report, rule: str) -> tuple[str, int, int]:
    for path in policy_modules(report.directory):
        source = path.read_text()
        found = source.find(json.dumps(rule))
        if found >= 0:
            return (report.name(path), *_position(source, found))
    return report.name(report.directory / "trust.rego"), 1, 1


# -- Data ------------------------------------------------------------------------------------------


def _load_data(report: _Report) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path in sorted((report.directory / "data").glob("*")):
        if path.suffix not in {".json", ".yaml", ".yml"}:
            continue
        text = path.read_text()
        shown = report.name(path)
        report.texts[path.stem] = text
        report.texts[shown] = text
        try:
            data[path.stem] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except json.JSONDecodeError as exc:
            report.add(shown, exc.lineno, exc.colno, "error", f"invalid JSON: {exc.msg}")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            report.add(
                shown,
                mark.line + 1 if mark else 1,
                mark.column + 1 if mark else 1,
                "error",
                f"invalid YAML: {getattr(exc, 'problem', exc)}",
            )
    return data


def _file(report: _Report, stem: str) -> str:
    for suffix in (".json", ".yaml", ".yml"):
        path = report.directory / "data" / f"{stem}{suffix}"
        if path.exists():
            return report.name(path)
    return report.name(report.directory / "data" / f"{stem}.json")


def _dataset(report: _Report, catalog: Catalog, file: str, path: list[str], dataset_id: Any, what: str):
    if not isinstance(dataset_id, str) or dataset_id not in catalog.datasets:
        report.at(
            file,
            path,
            "error",
            f"{what}: no dataset {dataset_id!r} in the catalogue.{did_you_mean(str(dataset_id), catalog.datasets)}",
        )
        return None
    return catalog.datasets[dataset_id]


def _column(report: _Report, file: str, path: list[str], ds, column: Any, what: str) -> bool:
    names = [c.name for c in ds.columns]
    if column not in names:
        report.at(file, path, "error", f"{what}: {ds.id} has no column {column!r}.{did_you_mean(str(column), names)}")
        return False
    return True


def _check_projects(report: _Report, projects: Any, catalog: Catalog) -> None:
    file = _file(report, "projects")
    if not isinstance(projects, Mapping):
        report.at(file, [], "error", "projects must be an object keyed by project id")
        return
    for pid, p in projects.items():
        where = [pid]
        if not isinstance(p, Mapping):
            report.at(file, where, "error", f"project {pid}: must be an object")
            continue
        for key in ("title", "purpose", "legal_gateway", "expires"):
            if not isinstance(p.get(key), str) or not p.get(key):
                report.at(file, where, "error", f"project {pid}: {key!r} is missing (a non-empty string)")
        try:
            dt.date.fromisoformat(str(p.get("expires")))
        except ValueError:
            if isinstance(p.get("expires"), str):
                report.at(
                    file,
                    [*where, "expires"],
                    "error",
                    f"project {pid}: expires {p['expires']!r} is not a date (YYYY-MM-DD)",
                )
        members = p.get("members")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            report.at(
                file, [*where, "members"], "error", f"project {pid}: 'members' must be a non-empty list of user names"
            )
        datasets = p.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            report.at(file, [*where, "datasets"], "error", f"project {pid}: 'datasets' must be a non-empty list")
            datasets = []
        for ds_id in datasets:
            _dataset(report, catalog, file, [*where, "datasets", ds_id], ds_id, f"project {pid}")
        for ds_id, columns in (p.get("columns") or {}).items():
            ds = _dataset(report, catalog, file, [*where, "columns", ds_id], ds_id, f"project {pid} columns")
            if ds is None:
                continue
            if ds_id not in datasets:
                report.at(
                    file,
                    [*where, "columns", ds_id],
                    "error",
                    f"project {pid}: approves columns of {ds_id}, which is not one of its datasets",
                )
            for col in columns if isinstance(columns, list) else []:
                if (
                    _column(report, file, [*where, "columns", ds_id, col], ds, col, f"project {pid}")
                    and ds.column(col).role is Role.DIRECT_IDENTIFIER
                ):
                    report.at(
                        file,
                        [*where, "columns", ds_id, col],
                        "warning",
                        f"project {pid}: approves direct identifier {ds_id}.{col}, which no query may use",
                    )
        for agg in p.get("allowed_aggregates") or []:
            if agg not in AGGREGATES:
                report.at(
                    file,
                    [*where, "allowed_aggregates"],
                    "error",
                    f"project {pid}: unknown aggregate {agg!r}; restricted aggregates are {', '.join(AGGREGATES)}",
                )


def _check_organisations(report: _Report, organisations: Any) -> None:
    file = _file(report, "organisations")
    if not isinstance(organisations, Mapping):
        report.at(file, [], "error", "organisations must be an object keyed by organisation name")
        return
    for name, org in organisations.items():
        if not isinstance(org, Mapping) or org.get("type") not in ORGANISATION_TYPES:
            report.at(
                file, [name], "error", f"organisation {name}: 'type' must be one of {', '.join(ORGANISATION_TYPES)}"
            )
            continue
        areas = org.get("areas", [])
        if org["type"] in {"council", "strategic_authority"} and not areas:
            report.at(file, [name], "error", f"organisation {name}: a {org['type']} must list its areas (ONS codes)")
        for code in areas if isinstance(areas, list) else [areas]:
            if not isinstance(code, str) or not AREA_CODE.match(code):
                report.at(
                    file,
                    [name, str(code)],
                    "error",
                    f"organisation {name}: {code!r} is not an ONS area code "
                    "(a letter and eight digits, e.g. E08000003)",
                )


def _check_departments(report: _Report, departments: Any, catalog: Catalog) -> None:
    file = _file(report, "departments")
    if not isinstance(departments, Mapping):
        report.at(file, [], "error", "departments must be an object keyed by department")
        return
    known = {ds.department for ds in catalog}
    for dept, settings in departments.items():
        if dept not in known:
            report.at(file, [dept], "error", f"{dept} is not a department in the catalogue.{did_you_mean(dept, known)}")
            continue
        settings = settings if isinstance(settings, Mapping) else {}
        for key in ("area_columns", "opt_out_columns"):
            for ds_id, col in (settings.get(key) or {}).items():
                ds = _dataset(report, catalog, file, [dept, key, ds_id], ds_id, f"{dept} {key}")
                if ds is not None:
                    _column(report, file, [dept, key, ds_id], ds, col, f"{dept} {key}")
        for ds_id in settings.get("date_of_birth_datasets") or []:
            ds = _dataset(
                report, catalog, file, [dept, "date_of_birth_datasets", ds_id], ds_id, f"{dept} date_of_birth_datasets"
            )
            if ds is not None:
                _column(
                    report,
                    file,
                    [dept, "date_of_birth_datasets", ds_id],
                    ds,
                    "date_of_birth",
                    f"{dept} date_of_birth_datasets",
                )
        for ds_id, caps in (settings.get("top_code") or {}).items():
            ds = _dataset(report, catalog, file, [dept, "top_code", ds_id], ds_id, f"{dept} top_code")
            for col, cap in (caps or {}).items() if ds is not None else ():
                if (
                    _column(report, file, [dept, "top_code", ds_id, col], ds, col, f"{dept} top_code")
                    and ds.column(col).role is not Role.MEASURE
                ):
                    report.at(
                        file,
                        [dept, "top_code", ds_id, col],
                        "error",
                        f"{dept} top_code: {ds_id}.{col} is not a measure",
                    )
                if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
                    report.at(
                        file,
                        [dept, "top_code", ds_id, col],
                        "error",
                        f"{dept} top_code: the cap for {ds_id}.{col} must be a positive whole number, not {cap!r}",
                    )
        if dept == "DWP":
            declared = set(settings.get("opt_out_columns") or {}) | set(settings.get("opt_out_exempt") or {})
            for ds in catalog:
                if ds.department == "DWP" and ds.id not in declared:
                    report.at(
                        file,
                        [dept],
                        "error",
                        f"DWP: {ds.id} has no opt-out declaration (opt_out_columns or "
                        "opt_out_exempt); every query on it would be denied",
                    )
    for ds in catalog:
        if ds.department not in departments:
            report.at(
                file,
                [],
                "warning",
                f"{ds.department} has no settings here; its datasets have no area column, "
                "so council and Strategic Authority analysts cannot use them",
            )


def _check_thresholds(report: _Report, file: str, path: list[str], t: Any, floor_deviation: int = 1) -> None:
    """One set of thresholds; ``floor_deviation`` is the defaults' max_deviation, which a merge never goes below."""
    if not isinstance(t, Mapping):
        report.at(file, path, "error", f"{'.'.join(path)}: thresholds must be an object")
        return
    checks = {
        "min_units": lambda v: isinstance(v, int) and v >= 1,
        "p_percent": lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
        "rounding_base": lambda v: isinstance(v, int) and v >= 0,
    }
    for key, ok in checks.items():
        if key in t and (isinstance(t[key], bool) or not ok(t[key])):
            report.at(file, [*path, key], "error", f"{'.'.join(path)}: {key} {t[key]!r} is out of range")
    pert = t.get("perturbation", {})
    pert_checks = {
        "method": lambda v: v in ("noise", "suppress"),
        "max_deviation": lambda v: isinstance(v, int) and 1 <= v <= 100,
        "variance": lambda v: isinstance(v, (int, float)) and 0 < v <= 100,
        "top_share": lambda v: isinstance(v, (int, float)) and 0 <= v <= 1,
        "cell_share": lambda v: isinstance(v, (int, float)) and 0 <= v <= 10,
        "magnitude_variance": lambda v: isinstance(v, (int, float)) and 0 < v <= 100,
        "small_values": lambda v: isinstance(v, int) and 0 <= v <= 100,
    }
    if not isinstance(pert, Mapping):
        report.at(file, [*path, "perturbation"], "error", f"{'.'.join(path)}: perturbation must be an object")
    else:
        for key, value in pert.items():
            known = pert_checks.get(key)
            if known is None or isinstance(value, bool) or not known(value):
                report.at(
                    file,
                    [*path, "perturbation", key],
                    "error",
                    f"{'.'.join(path)}: perturbation {key} {value!r} is not a known setting in range "
                    "(method noise|suppress, max_deviation 1-100, variance and magnitude_variance > 0, top_share 0-1, cell_share 0-10, small_values 0-100)",
                )
        small, deviation = pert.get("small_values", 0), pert.get("max_deviation", floor_deviation)
        if (
            isinstance(small, int)
            and isinstance(deviation, int)
            and not isinstance(small, bool)
            and small >= max(deviation, floor_deviation)
        ):
            report.at(
                file,
                [*path, "perturbation", "small_values"],
                "error",
                f"{'.'.join(path)}: perturbation small_values {small} must be less than max_deviation "
                f"{max(deviation, floor_deviation)}, or a small count has no room to move; raise max_deviation or lower small_values",
            )
    dom = t.get("dominance", {})
    if (
        not isinstance(dom, Mapping)
        or ("n" in dom and not (isinstance(dom["n"], int) and dom["n"] >= 1))
        or ("k" in dom and not (isinstance(dom["k"], (int, float)) and 0 < dom["k"] <= 1))
    ):
        report.at(file, [*path, "dominance"], "error", f"{'.'.join(path)}: dominance needs n >= 1 and 0 < k <= 1")


def _check_disclosure(report: _Report, disclosure: Any, departments: Any, catalog: Catalog) -> None:
    file = _file(report, "disclosure")
    if not isinstance(disclosure, Mapping) or not isinstance(disclosure.get("defaults"), Mapping):
        report.at(file, [], "error", "disclosure needs 'defaults' (min_units, dominance, p_percent, rounding_base)")
        return
    defaults = disclosure["defaults"]
    for key in ("min_units", "dominance", "p_percent", "rounding_base", "perturbation"):
        if key not in defaults:
            report.at(file, ["defaults"], "error", f"disclosure defaults: {key} is missing")
    _check_thresholds(report, file, ["defaults"], defaults)
    pert = defaults.get("perturbation")
    if isinstance(pert, Mapping):
        for key in (
            "method",
            "max_deviation",
            "variance",
            "top_share",
            "cell_share",
            "magnitude_variance",
            "small_values",
        ):
            if key not in pert:
                report.at(
                    file, ["defaults", "perturbation"], "error", f"disclosure defaults: perturbation {key} is missing"
                )
    floor = pert.get("max_deviation", 1) if isinstance(pert, Mapping) else 1
    floor = floor if isinstance(floor, int) and not isinstance(floor, bool) else 1
    known = {ds.department for ds in catalog}
    for dept, t in (disclosure.get("departments") or {}).items():
        if dept not in known:
            report.at(file, ["departments", dept], "error", f"disclosure: {dept} is not a department in the catalogue")
        _check_thresholds(report, file, ["departments", dept], t, floor)
    for ds_id, t in (disclosure.get("datasets") or {}).items():
        _dataset(report, catalog, file, ["datasets", ds_id], ds_id, "disclosure datasets")
        _check_thresholds(report, file, ["datasets", ds_id], t, floor)
    for dept, settings in (departments or {}).items():
        for key in ("employer_level_disclosure", "magnitude_disclosure"):
            if isinstance(settings, Mapping) and key in settings:
                _check_thresholds(report, _file(report, "departments"), [dept, key], settings[key], floor)


# -- Probe -----------------------------------------------------------------------------------------


def _probe(report: _Report, policy: EmbeddedPolicy, data: Mapping[str, Any], catalog: Catalog) -> None:
    """Ask for a decision for every project and organisation; every answer must be usable, and the same
    whole (``data.trust.decision``) as by way of the partial decision."""
    from trust.sql.rewrite import leaf_sql, obligations_from

    whole = (
        EmbeddedPolicy(report.directory, modules=read_modules(report.directory), data=dict(data), query=QUERY)
        if policy.partial
        else None
    )
    projects = data.get("projects") or {}
    organisations = data.get("organisations") or {}
    reported: set[Any] = set()
    for pid, p in projects.items():
        tables = [catalog.datasets[d] for d in p.get("datasets", []) if d in catalog.datasets]
        if not tables or not p.get("members"):
            continue
        for org in organisations:
            document = {
                "identity": {"user": p["members"][0], "roles": ["analyst"], "organisation": org},
                "project": {k: p.get(k) for k in ("purpose", "legal_gateway", "datasets")} | {"id": pid},
                "context": {"date": dt.date.today().isoformat()},
                "query": {
                    "tables": [{"dataset": d.id, "department": d.department, "flags": list(d.flags)} for d in tables],
                    "columns": [],
                    "aggregates": [{"function": "count", "dataset": None, "column": None, "distinct": False}],
                    "joins": [],
                    "outputs": [],
                    "aggregated_output": True,
                },
            }
            decision: Decision = policy.decide(document)
            if whole is not None and "partial" not in reported:  # the first difference is enough
                expected = whole.decide(document)
                if decision.to_json() != expected.to_json():
                    reported.add("partial")
                    report.add(
                        *_partial_location(report),
                        "error",
                        f"for project {pid} and organisation {org}, {PARTIAL} with the thresholds the trust works "
                        f"out (trust/policy/thresholds.py) decides {_summary(decision)}, but {QUERY} decides "
                        f"{_summary(expected)}: change `disclosure` and configured_settings in trust.rego only "
                        "together with thresholds.py",
                    )
            if decision.rules[:1] == ("trust.policy_error",):
                key = decision.deny[0]["message"]
                if key not in reported:
                    reported.add(key)
                    report.add(
                        report.name(report.directory / "trust.rego"),
                        1,
                        1,
                        "error",
                        f"no decision for project {pid} and organisation {org}: {key}",
                    )
                continue
            # Each obligation on its own, so a bad one is blamed on the rule that made it.
            for kind, items in (("row filter", decision.row_filters), ("column mask", decision.column_masks)):
                for item in items:
                    ds = catalog.datasets.get(item["dataset"])
                    if ds is None:
                        continue
                    obligations = obligations_from([item], []) if kind == "row filter" else obligations_from([], [item])
                    try:
                        leaf_sql(ds, obligations)
                    except TrustError as exc:
                        rule = item.get("rule", "?")
                        if (rule, ds.id) in reported:
                            continue
                        reported.add((rule, ds.id))
                        file, line, column = _rule_location(report, rule)
                        report.add(
                            file,
                            line,
                            column,
                            "error",
                            f"{rule} gives {ds.id} a {kind} the trust cannot "
                            f"apply ({item['expression']!r}): {exc.message}",
                        )


def _partial_location(report: _Report) -> tuple[str, int, int]:
    path = report.directory / "trust.rego"
    source = path.read_text() if path.exists() else ""
    found = re.search(r"^partial_decision\s*:=", source, re.M)
    return (report.name(path), *_position(source, found.start())) if found else (report.name(path), 1, 1)


def _summary(decision: Decision) -> str:
    d = decision.to_json()
    return json.dumps(
        {"allow": d["allow"], "deny": [x["rule"] for x in d["deny"]], "disclosure": d["obligations"]["disclosure"]}
    )


def check_policies(directory: Path, catalog: Catalog) -> list[Problem]:
    """Every problem found in the policy under ``directory``, errors and warnings."""
    report = _Report(directory)
    data = _load_data(report)
    _check_projects(report, data.get("projects"), catalog)
    _check_organisations(report, data.get("organisations"))
    _check_departments(report, data.get("departments"), catalog)
    _check_disclosure(report, data.get("disclosure"), data.get("departments"), catalog)
    policy = _check_rego(report, data)
    if policy is not None:
        _probe(report, policy, data, catalog)
    return report.problems
