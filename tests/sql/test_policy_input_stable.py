"""The policy input document of corpus queries is stable: golden files, compared field for field.

Each corpus case or control marked ``golden: true`` has its document in
tests/sql/corpus/policy_inputs/<id>.json (the date in ``context`` is written as "<today>").
After an intended change, regenerate them and review the diff:

    TRUST_REGEN_POLICY_INPUTS=1 .venv/bin/python -m pytest tests/sql/test_policy_input_stable.py

docs/policy-input.md describes every field, with examples taken from these files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from corpus_cases import CORPUS, load_cases, load_controls

from trust.catalog import Catalog
from trust.demo.environment import seed_users
from trust.service import Trust
from trust.service.pipeline import policy_input as build_input
from trust.sql.describe import describe
from trust.sql.parse import parse
from trust.sql.protect import check_structure
from trust.sql.resolve import resolve
from trust.sql.validate import validate

GOLDEN = CORPUS / "policy_inputs"
REGEN = os.environ.get("TRUST_REGEN_POLICY_INPUTS") == "1"
QUERIES = [(c.id, c.user, c.project, c.sql) for c in load_cases() if c.golden] + [
    (c.id, c.user, c.project, c.sql) for c in load_controls() if c.golden
]


@pytest.fixture(scope="module")
def document_trust(tmp_path_factory: pytest.TempPathFactory) -> Trust:
    """A trust home with the demo users; no department is contacted (the unit catalogue stands in)."""
    trust = Trust.open(tmp_path_factory.mktemp("policy-input-home"))
    seed_users(trust)
    return trust


def policy_input(trust: Trust, catalog: Catalog, user: str, project: str, sql: str) -> dict[str, Any]:
    """The document the service sends the policy for ``sql`` (the pipeline's stages, up to the decision)."""
    parsed = parse(sql)
    validate(parsed)
    description = describe(resolve(parsed, catalog), catalog)
    check_structure(description)
    document = build_input(
        trust.access.user(user),
        trust.access.project(project),
        description.shape.to_policy_input(),
        dt.date.today().isoformat(),
    )
    document["context"]["date"] = "<today>"
    return document


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_golden_queries_exist() -> None:
    assert len(QUERIES) >= 10
    if not REGEN:
        stale = {p.stem for p in GOLDEN.glob("*.json")} - {q[0] for q in QUERIES}
        assert not stale, f"golden files without a golden query: {sorted(stale)}"


@pytest.mark.parametrize(("case_id", "user", "project", "sql"), QUERIES, ids=[q[0] for q in QUERIES])
def test_policy_input_matches_golden(
    case_id: str, user: str, project: str, sql: str, document_trust: Trust, catalog: Catalog
) -> None:
    document = policy_input(document_trust, catalog, user, project, sql)
    assert _text(document) == _text(policy_input(document_trust, catalog, user, project, sql)), "not deterministic"
    path: Path = GOLDEN / f"{case_id}.json"
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(_text(document), encoding="utf-8")
    assert path.exists(), f"no golden document for {case_id}; run with TRUST_REGEN_POLICY_INPUTS=1"
    assert json.loads(path.read_text(encoding="utf-8")) == document, (
        f"the policy input for {case_id} changed; if intended, regenerate with TRUST_REGEN_POLICY_INPUTS=1 "
        "and update docs/policy-input.md"
    )
    assert path.read_text(encoding="utf-8") == _text(document), f"{path.name}: same content, different layout"
