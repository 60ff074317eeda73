"""``out.request_release(...)`` in embedded mode: the same service, as the output's author."""

from __future__ import annotations

import pytest

from trust.errors import NotAuthorised
from trust.outputs.release import ReleaseState
from trust.service import Trust

from .conftest import JUSTIFICATION, PROJECT, MakeOutput


def test_an_embedded_output_asks_for_its_own_release(offline: Trust, make_output: MakeOutput):
    first, second = make_output(), make_output(statuses={1: "suppressed"})
    out = offline.output("ana", first.id)
    assert out.origin is None
    request = out.request_release(JUSTIFICATION, with_outputs=[second], trust=offline.session("ana", PROJECT))
    assert request.state is ReleaseState.SUBMITTED and request.author == "ana"
    assert request.output_ids == [first.id, second.id]


def test_reasons_are_given_per_cell_of_the_output(offline: Trust, make_output: MakeOutput):
    out = offline.output("ana", make_output(statuses={2: "review"}).id)
    request = out.request_release(JUSTIFICATION, cell_reasons={(2, "claimants"): "Refunds, not amounts."})
    assert request.reasons(out.id) == {"2:claimants": "Refunds, not amounts."}  # the trust at $TRUST_HOME
    assert str(request).startswith(f"{request.id}  submitted: waiting for two output checkers (0 of 2")
    assert "trust-release" in request._repr_html_()


def test_only_members_may_ask(offline: Trust, make_output: MakeOutput):
    out = offline.output("carol", make_output().id)  # a checker may read it, but it is not carol's to release
    with pytest.raises(NotAuthorised):
        offline.request_release("carol", [out.id], JUSTIFICATION)
