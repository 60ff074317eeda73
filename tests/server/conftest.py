"""The trust as a user meets it: department servers and ``trust serve`` as real processes.

One stack per test session: ``trust departments serve`` (which writes the trust's configuration
and its users into a home) and ``trust serve --port 0`` over that home. A second server over the
same home runs with a two-second query limit, for the timeout tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import trust
from trust.server.launch import Running, launch_departments, launch_trust
from trust.service import Trust

DEMO_PROJECT = "demo-employment-support"
DWP_PROJECT = "demo-dwp-caseload"


@dataclass
class Stack:
    home: Path
    server: Running
    clients: list[trust.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, user: str) -> str:
        return Trust.open(self.home).access.issue_token(user, label="tests").secret

    def client(self, user: str, *, url: str | None = None, **kwargs: object) -> trust.Client:
        c = trust.Client(url or self.url, token=self.token(user), **kwargs)  # type: ignore[arg-type]
        self.clients.append(c)
        return c


def data_scale(data_dir: Path) -> float:
    """The scale the session's data was generated at, so the departments do not regenerate it."""
    return float(json.loads((data_dir / ".complete").read_text())["scale"])


@pytest.fixture(scope="session")
def stack(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("trust-server-home")
    with launch_departments(home, data_dir, scale=data_scale(data_dir)), launch_trust(home) as server:
        s = Stack(home, server)
        yield s
        for c in s.clients:
            c.close()


@pytest.fixture(scope="session")
def strict_server(stack: Stack) -> Iterator[Running]:
    """A second ``trust serve`` over the same state, whose queries may run for two seconds."""
    with launch_trust(stack.home, workers=2, env={"TRUST_QUERY_TIMEOUT_S": "2"}, name="strict") as server:
        yield server


@pytest.fixture(scope="session")
def ana_client(stack: Stack) -> trust.Client:
    return stack.client("ana", project=DEMO_PROJECT)


@pytest.fixture(scope="session")
def bob_client(stack: Stack) -> trust.Client:
    return stack.client("bob", project=DWP_PROJECT)
