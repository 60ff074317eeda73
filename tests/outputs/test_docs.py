"""docs/release.md carries the state diagram and tables generated from ``TRANSITIONS``; they must match.

``TRUST_UPDATE_DOCS=1 pytest tests/outputs/test_docs.py`` rewrites the block after a change to the table.
"""

from __future__ import annotations

import os
import re

from trust.config import REPO_ROOT
from trust.outputs.release import TRANSITIONS, ReleaseState, generated_docs

DOC = REPO_ROOT / "docs" / "release.md"
BLOCK = re.compile(
    r"(<!-- generated: trust\.outputs\.release\.generated_docs -->\n)(.*?)(\n<!-- end generated -->)", re.DOTALL
)


def test_the_documented_state_diagram_is_the_transitions_table():
    text = DOC.read_text()
    found = BLOCK.search(text)
    assert found, "docs/release.md lost its generated block markers"
    if os.environ.get("TRUST_UPDATE_DOCS"):
        DOC.write_text(text[: found.start(2)] + generated_docs() + text[found.end(2) :])
        text = DOC.read_text()
        found = BLOCK.search(text)
        assert found
    assert found.group(2) == generated_docs(), "regenerate it: TRUST_UPDATE_DOCS=1 pytest tests/outputs/test_docs.py"


def test_the_diagram_has_every_state_and_transition():
    diagram = generated_docs()
    for t in TRANSITIONS:
        assert f"{t.source.value} --> {t.target.value}: {t.action} ({t.by.value})" in diagram
    for state in ReleaseState:
        assert f"| {state.value} |" in diagram
