"""``out.request_release(...)`` in embedded mode: the same service, as the output's author."""

from __future__ import annotations

import pytest

from trust.errors import NotAuthorised, TrustError
from trust.outputs.release import ReleaseState
from trust.service import Trust

from .conftest import JUSTIFICATION, PROJECT, MakeOutput


def test_an_embedded_output_asks_for_its_own_release(offline: Trust, make_output: MakeOutput):
    first, second = make_output(), make_output(statuses={1: "suppressed"})
    out = offline.queries.output("ana", first.id)
    assert out.origin is None
    request = out.request_release(JUSTIFICATION, with_outputs=[second], via=offline.session("ana", PROJECT))
    assert request.state is ReleaseState.SUBMITTED and request.author == "ana"
    assert request.output_ids == [first.id, second.id]


def test_reasons_are_given_per_cell_of_the_output(offline: Trust, make_output: MakeOutput):
    out = offline.queries.output("ana", make_output(statuses={2: "review"}).id)
    request = out.request_release(
        JUSTIFICATION, cell_reasons={(2, "claimants"): "Refunds, not amounts."}, via=offline.session("ana", PROJECT)
    )
    assert request.reasons(out.id) == {"2:claimants": "Refunds, not amounts."}
    assert str(request).startswith(f"{request.id}  submitted: waiting for two output checkers (0 of 2")
    assert "trust-release" in request._repr_html_()


def test_an_output_from_nowhere_says_where_to_ask(offline: Trust, make_output: MakeOutput):
    out = offline.queries.output("ana", make_output().id)  # read from the store: no session or client behind it
    with pytest.raises(TrustError, match=r"session.request_release"):
        out.request_release(JUSTIFICATION)


def test_only_members_may_ask(offline: Trust, make_output: MakeOutput):
    out = offline.queries.output("carol", make_output().id)  # a checker may read it, but it is not carol's to release
    with pytest.raises(NotAuthorised):
        offline.airlock.request("carol", [out.id], JUSTIFICATION)
