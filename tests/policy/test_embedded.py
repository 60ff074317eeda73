"""The embedded decision point fails closed, caches safely, and reads regopy's outputs safely."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import regopy

from trust.catalog.model import Role
from trust.config import REPO_ROOT, Config
from trust.errors import ConfigurationError
from trust.policy import select_policy
from trust.policy.decision import Decision
from trust.policy.embedded import UNDEFINED, EmbeddedPolicy, run, to_input

ALLOW = {"allow": True, "deny": [], "obligations": {"row_filters": [], "column_masks": [], "disclosure": {}}}


def policy(body: str, data: dict | None = None) -> EmbeddedPolicy:
    return EmbeddedPolicy(modules={"trust.rego": "package trust\n\nimport rego.v1\n\n" + body}, data=data or {})


def refused_by(decision: Decision) -> str:
    assert not decision.allow
    return decision.rules[0]


def test_a_good_decision_is_read():
    d = policy(
        'decision := {"allow": true, "deny": [], "obligations": {"row_filters": [{"dataset": "a.b", '
        '"expression": "x = 1", "rule": "t.r"}], "column_masks": [], "disclosure": {"min_units": 12}}}'
    ).decide({})
    assert d.allow and d.row_filters == ({"dataset": "a.b", "expression": "x = 1", "rule": "t.r"},)
    assert d.disclosure.min_units == 12


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("x := 1", "undefined"),  # no decision at all
        ('decision := {"allow": "yes"}', "boolean 'allow'"),
        ('decision := {"allow": true, "deny": [{"rule": "a.b"}]}', "without a rule and a message"),
        ('decision := {"allow": true, "obligations": {"row_filters": [{"dataset": "a.b"}]}}', "row filter without"),
        ('decision := {"allow": true, "obligations": {"disclosure": {"min_units": "ten"}}}', "not numbers"),
        (
            'decision := {"allow": true, "obligations": {"column_masks": ['
            '{"dataset": "a.b", "column": "c", "expression": "1"}, {"dataset": "a.b", "column": "c", "expression": "2"}]}}',
            "two different masks",
        ),
        # Two rules giving a complete rule different values is an evaluation error.
        ('decision := {"allow": true} if input.a\ndecision := {"allow": false} if input.b', ""),
        ('decision := {"allow": true, "n": foo(1)}', "Function not found"),
    ],
    ids=[
        "undefined",
        "allow-not-bool",
        "deny-without-message",
        "filter-without-expression",
        "bad-thresholds",
        "conflicting-masks",
        "conflict",
        "unknown-function",
    ],
)
def test_anything_but_a_clean_decision_denies(body, why):
    d = policy(body).decide({"a": True, "b": True})
    assert refused_by(d) == "trust.policy_error"
    assert "could not decide" in d.deny[0]["message"] and "trust policy check" in d.deny[0]["remedy"]
    if why:
        assert why in d.deny[0]["message"]


def test_a_decision_that_is_false_is_undefined_as_before():
    # Evaluated as an entry point rather than a query, a rule that is false is still no decision.
    assert policy("decision := false").evaluate({}) is UNDEFINED
    assert refused_by(policy("decision := false").decide({})) == "trust.policy_error"


def test_a_query_that_is_not_a_rule_is_still_evaluated():
    assert (
        EmbeddedPolicy(modules={"x.rego": "package x\n\nimport rego.v1\n\ny := 2\n"}, query="data.x.y + 1").evaluate({})
        == 3
    )


def test_the_input_reaches_the_engine_as_regopy_would_convert_it():
    echo = EmbeddedPolicy(
        modules={"trust.rego": "package trust\n\nimport rego.v1\n\necho := input\n"}, query="data.trust.echo"
    )
    document = {
        "text": "é, ünïcode and spaces",
        "numbers": [0, -3, 2**40, 1.5, -0.0],
        "flags": [True, False, None],
        "nested": {"tuple": (1, "a"), "set": {"x"}, "empty": {}, "list": []},
        "role": Role.MEASURE,
    }
    for converted in (regopy.Input(document), to_input(document)):
        echo._rego.set_input(converted)
        assert run(echo._rego, echo._bundle, "trust/echo") == json.loads(json.dumps(document, default=sorted))
        assert echo.evaluate(document) == json.loads(json.dumps(document, default=sorted))


@pytest.mark.parametrize(
    "partial",
    ['{"allow": true, "deny": []}', '"yes"', '{"allow": true, "deny": [], "obligations": {}}'],
    ids=["no-obligations", "not-an-object", "no-thresholds"],
)
def test_a_partial_decision_without_its_parts_denies(partial):
    # Never allowed with the built-in thresholds in place of the policy's own.
    p = policy(f"partial_decision := {partial}\ndecision := {{}}", data={"disclosure": {}})
    assert p.partial and refused_by(p.decide({})) == "trust.policy_error"


def test_a_deny_wins_even_if_allow_says_true():
    d = policy('decision := {"allow": true, "deny": [{"rule": "x.y", "message": "no.", "remedy": "r"}]}').decide({})
    assert not d.allow and d.rules == ("x.y",)


def test_a_policy_that_does_not_compile_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="does not compile"):
        policy("decision := {\n")


def test_decisions_are_cached_by_the_whole_input(embedded):
    doc = {
        "identity": {"user": "ana", "roles": ["analyst"], "organisation": "DWP"},
        "project": {"id": "demo-uc-pilot-2024"},
        "context": {"date": "2025-01-01"},
        "query": {
            "tables": [{"dataset": "dwp.uc_claims", "department": "DWP", "flags": []}],
            "columns": [],
            "aggregates": [],
            "joins": [],
            "aggregated_output": True,
        },
    }
    first = embedded.decide(doc)
    assert first.allow and embedded.decide(doc) is first
    later = {**doc, "context": {"date": "2025-04-01"}}
    assert embedded.decide(later).rules == ("trust.project_expired",)


def test_select_policy_defaults_to_embedded_and_rejects_unknown_backends(trust_home):
    assert select_policy(Config.load(trust_home, environ={})).backend == "embedded"
    with pytest.raises(ConfigurationError, match="Did you mean 'embedded'"):
        select_policy(Config.load(trust_home, environ={"TRUST_POLICY_BACKEND": "embeded"}))
    with pytest.raises(ConfigurationError, match="opa_url is not set"):
        select_policy(Config.load(trust_home, environ={"TRUST_POLICY_BACKEND": "opa"}))


def test_importing_the_trust_loads_duckdb_before_regopy():
    # regopy's allocator aborts the process if duckdb is loaded after it; the trust package
    # must keep importing the engine first, whichever module a caller imports.
    code = "import trust.policy.embedded, duckdb; duckdb.connect().execute('select 1'); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-500:]
