"""The thresholds the trust works out (trust/policy/thresholds.py) are the policy's own.

By way of ``data.trust.partial_decision``, every decision equals ``data.trust.decision`` evaluated whole
in regopy (which OPA and the policy owners' tests read): on every policy case, under variations of the
policy data that exercise each source of thresholds. A source that breaks the contract refuses the query.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from trust.catalog import load_catalog
from trust.config import REPO_ROOT
from trust.errors import ConfigurationError
from trust.policy.cases import all_cases
from trust.policy.embedded import QUERY, EmbeddedPolicy, policy_data, read_modules
from trust.policy.thresholds import thresholds

POLICIES = REPO_ROOT / "policies"
DATA = policy_data(POLICIES)
CASES = all_cases(Path(__file__).parent / "cases", load_catalog(REPO_ROOT / "catalog"), DATA["projects"])
DEFAULTS = DATA["disclosure"]["defaults"]

# Each variation changes one source of thresholds (path in the policy data: value).
VARIATIONS: dict[str, dict[tuple[str, ...], Any]] = {
    "as it is": {},
    "a department requires suppression and keeps small counts off the page": {
        ("disclosure", "departments", "HMRC"): {"perturbation": {"method": "suppress", "small_values": 4}},
    },
    "a dataset sets every threshold": {
        ("disclosure", "datasets", "dfe.learners"): {
            "min_units": 30,
            "rounding_base": 5,
            "dominance": {"n": 3, "k": 0.7},
            "p_percent": 0.2,
            "perturbation": {
                "max_deviation": 12,
                "variance": 3.0,
                "top_share": 0.3,
                "cell_share": 0.6,
                "magnitude_variance": 0.7,
                "small_values": 2,
            },
        },
    },
    "a module's contribution requires suppression": {
        ("departments", "DESNZ", "magnitude_disclosure"): {
            "p_percent": 0.2,
            "min_units": 25,
            "perturbation": {"method": "suppress"},
        },
    },
    "the defaults are the strictest": {
        ("disclosure", "defaults"): {
            **DEFAULTS,
            "min_units": 50,
            "dominance": {"n": 5, "k": 0.5},
            "perturbation": {**DEFAULTS["perturbation"], "method": "suppress"},
        },
    },
}


def varied(changes: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    for path, value in changes.items():
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return data


def canonical(value: Any) -> Any:
    """A decision document with its sets (JSON arrays) in one order, for comparing two engines' answers."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


@pytest.fixture(scope="module", params=list(VARIATIONS), ids=list(VARIATIONS))
def pair(request: pytest.FixtureRequest) -> tuple[EmbeddedPolicy, EmbeddedPolicy]:
    data = varied(VARIATIONS[request.param])
    partial = EmbeddedPolicy(POLICIES, data=data, cache_size=0)
    whole = EmbeddedPolicy(POLICIES, data=data, query=QUERY, cache_size=0)
    assert partial.partial and not whole.partial
    return partial, whole


def test_every_case_decides_the_same_by_way_of_the_partial_decision(pair):
    partial, whole = pair
    for case in CASES:
        assert canonical(partial.evaluate(case.document)) == canonical(whole.evaluate(case.document)), case.id
        assert partial.decide(case.document).to_json() == whole.decide(case.document).to_json(), case.id


def test_the_variations_reach_every_kind_of_source(pair):
    partial, _ = pair
    fired = {f["rule"] for case in CASES for f in partial.decide(case.document).fired if f["effect"] == "disclosure"}
    assert {"disclosure.defaults", "disclosure.departments.HMRC", "disclosure.departments.DESNZ"} <= fired
    assert {"disclosure.datasets.dwp.pip_awards", "hmrc.employer_level", "desnz.magnitude"} <= fired


@pytest.mark.parametrize(
    ("rules", "contributions", "why"),
    [
        (["disclosure.defaults", "x.y"], [{"min_units": 5}], "without a rule"),
        (["disclosure.defaults", "disclosure.sneaky"], [{"rule": "disclosure.sneaky"}], "are disclosure.json's"),
        (["disclosure.defaults", "disclosure.datasets.nope"], [], "does not set"),
        (["disclosure.defaults", "x.y"], [], "did not give"),
        (["disclosure.defaults", "x.y"], [{"rule": "x.y", "min_units": "20"}], "not a number"),
        (["disclosure.defaults", "x.y"], [{"rule": "x.y", "min_units": True}], "not a number"),
        (["disclosure.defaults", "x.y"], [{"rule": "x.y", "dominance": {"k": None}}], "not a number"),
        (["disclosure.defaults", "x.y"], [{"rule": "x.y", "dominance": 5}], "not an object"),
        (["x.y"], "not a list", "must list"),
    ],
    ids=[
        "no-rule",
        "reserved-name",
        "unknown-place",
        "named-but-not-given",
        "string",
        "bool",
        "null",
        "not-an-object",
        "malformed",
    ],
)
def test_a_source_that_breaks_the_contract_is_refused(rules, contributions, why):
    with pytest.raises(ConfigurationError, match=why):
        thresholds(rules, contributions, DATA["disclosure"])


def test_without_defaults_there_are_no_thresholds():
    with pytest.raises(ConfigurationError, match="defaults"):
        thresholds(["disclosure.departments.HMRC"], [], {"departments": DATA["disclosure"]["departments"]})


def test_a_contribution_named_like_disclosure_json_refuses_the_query(embedded):
    modules = read_modules(POLICIES)
    modules["departments/desnz.rego"] = modules["departments/desnz.rego"].replace(
        '{"rule": "desnz.magnitude"}', '{"rule": "disclosure.departments.DESNZ"}'
    )
    policy = EmbeddedPolicy(modules=modules, data=DATA)
    case = next(c for c in CASES if any(f["rule"] == "desnz.magnitude" for f in embedded.decide(c.document).fired))
    decision = policy.decide(case.document)
    assert decision.rules == ("trust.policy_error",) and "disclosure.json's" in decision.deny[0]["message"]
