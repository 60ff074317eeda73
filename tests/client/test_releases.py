"""The client's side of the airlock, against a server in this process: ask, follow, download."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust.client import Client
from trust.errors import InvalidTransition, NotAuthorised, UnknownName
from trust.outputs.bundle import verify_bundle
from trust.outputs.release import ReleaseState
from trust.service import Trust

from ..outputs.conftest import JUSTIFICATION, store_output


def test_a_fetched_output_asks_its_server_and_the_bundle_comes_back_checked(
    trust: Trust, live_url: str, tmp_path: Path
):
    stored = store_output(trust, statuses={1: "suppressed", 3: "review"})
    with (
        trust_client(trust, live_url, "ana") as ana,
        trust_client(trust, live_url, "carol") as carol,
        trust_client(trust, live_url, "dev") as dev,
    ):
        out = ana.output(stored.id)
        assert out.origin is ana
        request = out.request_release(JUSTIFICATION, cell_reasons={(3, "claimants"): "Refunds, not amounts."})
        assert request.state is ReleaseState.SUBMITTED and request.reasons(out.id) == {
            "3:claimants": "Refunds, not amounts."
        }
        assert [r.id for r in ana.releases(state="submitted")] == [request.id]
        carol.review_release(request.id, {out.id: "approve"})
        assert ana.wait_for_release(request.id, timeout=0).state is ReleaseState.UNDER_REVIEW
        dev.review_release(request.id, {out.id: ("approve", "Fine.")})
        done = ana.wait_for_release(request.id, timeout=5)
        assert done.state is ReleaseState.RELEASED and {r.reviewer for r in done.reviews} == {"carol", "dev"}
        folder = ana.download_release(request.id, tmp_path)
        assert verify_bundle(folder) == [] and (folder / f"{request.id}.zip").exists()
        with pytest.raises(NotAuthorised, match="Only the author"):
            carol.download_release(request.id, tmp_path / "carol")


def test_drafts_are_edited_submitted_and_withdrawn_over_the_api(trust: Trust, live_url: str):
    a, b = store_output(trust), store_output(trust)
    with trust_client(trust, live_url, "ana") as ana:
        draft = ana.request_release([a.id, b.id], JUSTIFICATION, submit=False)
        assert draft.state is ReleaseState.DRAFT
        assert ana.edit_release(draft.id, outputs=[a.id]).output_ids == [a.id]
        assert ana.submit_release(draft.id).state is ReleaseState.SUBMITTED
        assert ana.withdraw_release(draft.id).state is ReleaseState.WITHDRAWN
        with pytest.raises(InvalidTransition, match="it cannot become submitted"):
            ana.submit_release(draft.id)
        with pytest.raises(UnknownName):
            ana.release("rel-000000000000")


def trust_client(t: Trust, url: str, user: str) -> Client:
    return Client(url, token=t.access.issue_token(user).secret, progress=False)
