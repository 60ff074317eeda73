"""Policy cases as data: an input document and the decision expected for it.

A case file (YAML) holds ``defaults`` and a list of ``cases``; each case names who asks, on which
project and date, for which query, and what the policy must answer::

    defaults: {identity: ana, project: demo-employment-support, date: "2026-06-01"}
    cases:
      - name: HMRC data is joined only on the linkage key
        query:
          tables: [dwp.uc_claims, hmrc.paye_employments]
          joins: ["dwp.uc_claims.claim_start = hmrc.paye_employments.tax_month"]
        expect: {allow: false, deny: [hmrc.linkage_only]}

Shorthand is expanded with the catalogue registrations and policy data, exactly as the service
would build the input: ``identity`` a demo user's name (or an object); ``project`` an id (filled
in from policy data, or an object used as given); ``tables`` dataset ids; ``columns`` a mapping
``dataset.column: [used_in...]``; ``aggregates`` like ``count``, ``sum(ds.col)``,
``count(distinct ds.col)``; ``joins`` like ``a.b.c = d.e.f``. ``input`` replaces the whole document
(for malformed inputs). ``expect`` may give ``allow`` (required), ``deny`` (the exact set of rules),
``row_filters`` (dataset: [expressions], exact for the datasets named), ``column_masks``
(``dataset.column: expression``, exact), ``disclosure`` (the fields given) and ``messages`` (text
that must appear in a denial).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trust.catalog.model import Catalog
from trust.errors import ConfigurationError
from trust.policy.decision import Decision

DEMO_IDENTITIES = {
    "ana": ("analyst",),
    "bob": ("analyst",),
    "carol": ("output_checker",),
    "dev": ("output_checker",),
    "olive": ("policy_owner",),
}
DEMO_ORGANISATIONS = {
    "ana": "DWP",
    "bob": "Greater Manchester Combined Authority",
    "carol": "ONS",
    "dev": "HMRC",
    "olive": "DWP",
}
RULE_NAME = re.compile(r"^(trust|dwp|hmrc|dfe|desnz)\.[a-z_]+$")
_AGGREGATE = re.compile(r"^(\w+)(?:\((distinct\s+)?([\w.]+)\))?$", re.I)


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    document: Mapping[str, Any]
    expect: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{Path(self.file).stem}: {self.name}"

    def mismatches(self, decision: Decision) -> list[str]:
        """What in ``decision`` differs from what the case expects (empty when it passes)."""
        e, out = self.expect, []
        if decision.allow != e["allow"]:
            out.append(f"allow is {decision.allow}, expected {e['allow']} (denied by {list(decision.rules)})")
        expected_deny = set(e.get("deny", []))
        if set(decision.rules) != expected_deny:
            out.append(f"deny rules are {sorted(set(decision.rules))}, expected {sorted(expected_deny)}")
        for d in decision.deny:
            if not RULE_NAME.match(d["rule"]):
                out.append(f"rule {d['rule']!r} is not named department.rule")
            if not d.get("remedy") or not d["message"].endswith(d["remedy"]):
                out.append(f"denial {d['rule']} does not end with what would make the request acceptable")
        for text in e.get("messages", []):
            if not any(text in d["message"] for d in decision.deny):
                out.append(f"no denial message contains {text!r}")
        if "row_filters" in e:
            for dataset, expressions in e["row_filters"].items():
                got = sorted(f["expression"] for f in decision.row_filters if f["dataset"] == dataset)
                if got != sorted(expressions):
                    out.append(f"row filters on {dataset} are {got}, expected {sorted(expressions)}")
        if "column_masks" in e:
            got_masks = {f"{m['dataset']}.{m['column']}": m["expression"] for m in decision.column_masks}
            if got_masks != dict(e["column_masks"]):
                out.append(f"column masks are {got_masks}, expected {dict(e['column_masks'])}")
        if "disclosure" in e:
            got_disclosure = decision.disclosure.to_json()
            got_disclosure["rounding_base"] = got_disclosure["rounding_base"] or 0
            for key, want in e["disclosure"].items():
                if got_disclosure.get(key) != want:
                    out.append(f"disclosure {key} is {got_disclosure.get(key)}, expected {want}")
        return out


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _identity(raw: Any) -> Any:
    if isinstance(raw, str) and raw in DEMO_IDENTITIES:
        return {"user": raw, "roles": list(DEMO_IDENTITIES[raw]), "organisation": DEMO_ORGANISATIONS[raw]}
    return raw


def _project(raw: Any, projects: Mapping[str, Any]) -> Any:
    if isinstance(raw, str):
        p = projects.get(raw, {})
        return {"id": raw, **{k: p.get(k) for k in ("purpose", "legal_gateway", "datasets")}}
    return raw


def _query(raw: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    def table(t: Any) -> Any:
        if isinstance(t, str):
            ds = catalog.get(t)
            return {"dataset": ds.id, "department": ds.department, "flags": list(ds.flags)}
        return t

    def columns(c: Any) -> list[Any]:
        if isinstance(c, Mapping):
            out = []
            for qualified, used_in in c.items():
                ds_id, name = qualified.rsplit(".", 1)
                col = catalog.get(ds_id).column(name)
                out.append(
                    {
                        "dataset": ds_id,
                        "column": name,
                        "role": col.role.value,
                        "used_in": list(used_in),
                        "flags": list(col.flags),
                    }
                )
            return out
        return list(c)

    def aggregate(a: Any) -> Any:
        if not isinstance(a, str):
            return a
        m = _AGGREGATE.match(a.strip())
        if not m:
            raise ConfigurationError(f"aggregate {a!r}: write count, sum(ds.col) or count(distinct ds.col)")
        fn, distinct, ref = m.groups()
        ds_id, col = ref.rsplit(".", 1) if ref else (None, None)
        return {"function": fn.lower(), "dataset": ds_id, "column": col, "distinct": bool(distinct)}

    def join(j: Any) -> Any:
        if isinstance(j, str):
            left, right = (s.strip() for s in j.split("="))
            return {"left": left, "right": right, "kind": "inner"}
        return j

    return {
        "tables": [table(t) for t in raw.get("tables", [])],
        "columns": columns(raw.get("columns", [])),
        "aggregates": [aggregate(a) for a in raw.get("aggregates", ["count"])],
        "joins": [join(j) for j in raw.get("joins", [])],
        "outputs": list(raw.get("outputs", [])),
        "aggregated_output": raw.get("aggregated_output", True),
        "set_operations": raw.get("set_operations", 0),
        "subqueries": raw.get("subqueries", 0),
    }


def load_cases(path: Path, catalog: Catalog, projects: Mapping[str, Any]) -> list[Case]:
    """The cases in one YAML file, each with its input document fully expanded."""
    raw = yaml.safe_load(path.read_text()) or {}
    defaults = raw.get("defaults", {})
    cases = []
    for item in raw.get("cases", []):
        spec = _merge(defaults, item)
        if "expect" not in spec or "allow" not in spec["expect"]:
            raise ConfigurationError(f"{path.name}: case {spec.get('name')!r} needs expect.allow")
        if not spec["expect"]["allow"] and not spec["expect"].get("deny"):
            raise ConfigurationError(
                f"{path.name}: case {spec.get('name')!r} is a denial and must name its rules (expect.deny)"
            )
        if "input" in spec:
            document = spec["input"]
        else:
            document = {
                "identity": _identity(spec.get("identity")),
                "project": _project(spec.get("project"), projects),
                "context": {"date": spec.get("date")},
                "query": _query(spec.get("query", {}), catalog),
            }
        cases.append(Case(file=str(path), name=str(spec["name"]), document=document, expect=spec["expect"]))
    return cases


def all_cases(directory: Path, catalog: Catalog, projects: Mapping[str, Any]) -> list[Case]:
    return [c for path in sorted(directory.glob("*.yaml")) for c in load_cases(path, catalog, projects)]
