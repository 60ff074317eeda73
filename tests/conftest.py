"""Shared fixtures: real department servers on loopback, and a trust home per test.

The departments' data is generated once per test session (deterministic, seeded) and served by
real HTTP and S3-compatible servers for the whole session. Each test gets its own trust home
under ``tmp_path`` pointing at those servers, so state never leaks between tests.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.views import AsChecker, checker_view, true_rows  # noqa: F401  (re-exported for the suites)
from trust.config import REPO_ROOT
from trust.demo.environment import DEFAULT_SEED, configure_home, seed_users
from trust.demo.generate import ensure_generated
from trust.demo.servers import DepartmentServers
from trust.service import Trust

TEST_SCALE = 0.5
DEMO_PROJECT = "demo-employment-support"
DWP_PROJECT = "demo-dwp-caseload"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("departments")
    ensure_generated(path, scale=TEST_SCALE, seed=DEFAULT_SEED)
    return path


@pytest.fixture(scope="session")
def departments(data_dir: Path) -> Iterator[DepartmentServers]:
    with DepartmentServers(data_dir) as servers:
        yield servers


@pytest.fixture(autouse=True)
def trust_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """All trust state under this test's tmp_path."""
    home = tmp_path / "trust-home"
    home.mkdir()
    monkeypatch.setenv("TRUST_HOME", str(home))
    return home


@pytest.fixture
def trust(trust_home: Path, departments: DepartmentServers) -> Trust:
    configure_home(trust_home, departments.endpoints)
    t = Trust.open(trust_home)
    seed_users(t)
    return t


@pytest.fixture
def ana(trust: Trust):
    return trust.session("ana", DEMO_PROJECT)


@pytest.fixture
def bob(trust: Trust):
    return trust.session("bob", DWP_PROJECT)


@pytest.fixture(scope="session")
def suppressing_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's policies with suppression instead of noise (a department may require it): the
    exact numbers, primary and secondary suppression, and differencing across a project's outputs."""
    folder = tmp_path_factory.mktemp("policies-suppress")
    shutil.copytree(REPO_ROOT / "policies", folder, dirs_exist_ok=True)
    settings = json.loads((folder / "data" / "disclosure.json").read_text())
    settings["defaults"]["perturbation"]["method"] = "suppress"
    (folder / "data" / "disclosure.json").write_text(json.dumps(settings, indent=1))
    return folder


@pytest.fixture
def suppressing(trust_home: Path, departments: DepartmentServers, suppressing_policies: Path) -> Trust:
    """A trust whose policy requires suppression instead of noise for every dataset."""
    configure_home(trust_home, departments.endpoints, policies_dir=str(suppressing_policies))
    t = Trust.open(trust_home)
    seed_users(t)
    return t
