"""A trust server in a thread of the test process (uvicorn on loopback), for client and magic tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trust.server.launch import serve_in_thread
from trust.service import Trust


@pytest.fixture
def live_url(trust: Trust) -> Iterator[str]:
    with serve_in_thread(trust) as url:
        yield url


@pytest.fixture
def ana_token(trust: Trust) -> str:
    return trust.access.issue_token("ana").secret
