"""A trust server in a thread of the test process (uvicorn on loopback), for client and magic tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from trust.server.app import create_app
from trust.service import Trust


@pytest.fixture
def live_url(trust: Trust) -> Iterator[str]:
    config = uvicorn.Config(create_app(trust, workers=2), host="127.0.0.1", port=0, log_config=None,
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="trust-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process trust server did not start")
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    yield f"http://{host}:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def ana_token(trust: Trust) -> str:
    return trust.issue_token("ana").secret
