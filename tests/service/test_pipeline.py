"""Running a query and ``trust policy explain`` walk the same stages, so they cannot disagree.

The whole gatekeeper corpus (every adversarial case and every control) goes through both, against
the real department servers: where running refuses, explain reports the same refusal (class, rule,
message and context); where running is allowed, explain shows the same input document, the same
decision and the same SQL.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql"))
from corpus_cases import load_cases, load_controls  # noqa: E402

from trust.demo.environment import configure_home, seed_users  # noqa: E402
from trust.errors import TrustError  # noqa: E402
from trust.service import Trust  # noqa: E402
from trust.service.pipeline import STAGES  # noqa: E402

QUERIES = [(c.id, c.user, c.project, c.sql) for c in load_cases()] + [
    (c.id, c.user, c.project, c.sql) for c in load_controls()
]


@pytest.fixture(scope="module")
def shared(departments, tmp_path_factory: pytest.TempPathFactory) -> Trust:
    home = tmp_path_factory.mktemp("pipeline-home")
    configure_home(home, departments.endpoints)
    trust = Trust.open(home)
    seed_users(trust)
    return trust


def test_the_stages_are_one_sequence_in_the_documented_order():
    assert [name for name, _ in STAGES] == [
        "parse",
        "validate",
        "resolve",
        "describe",
        "structure",
        "joins",
        "decide",
        "rewrite",
    ]


@pytest.mark.parametrize(("case_id", "user", "project", "sql"), QUERIES, ids=[q[0] for q in QUERIES])
def test_explain_agrees_with_running(shared: Trust, case_id: str, user: str, project: str, sql: str):
    try:
        checked = shared.queries.check(user, project, sql)  # what a query runs before the engine
        refused: TrustError | None = None
    except TrustError as exc:
        refused = exc
    explained = shared.queries.explain(user, project, sql)
    if refused is not None:
        assert explained.refusal is not None, f"{case_id}: running refuses ({refused.message}); explain allows it"
        assert type(explained.refusal) is type(refused)
        assert explained.refusal.to_dict() == refused.to_dict()
        assert not explained.allowed
        return
    assert explained.refusal is None, f"{case_id}: explain refuses ({explained.refusal}); running allows it"
    assert explained.allowed
    assert explained.document == checked.document
    assert explained.decision == checked.decision
    assert explained.sql == checked.plan.sql
