"""Shared fixtures for the policy tests: the real policy, the catalogue registrations, the cases."""

from __future__ import annotations

import pytest

from trust.catalog import Catalog, load_catalog
from trust.config import REPO_ROOT
from trust.policy.embedded import EmbeddedPolicy

POLICIES = REPO_ROOT / "policies"


@pytest.fixture(scope="session")
def registrations() -> Catalog:
    return load_catalog(REPO_ROOT / "catalog")


@pytest.fixture(scope="session")
def embedded() -> EmbeddedPolicy:
    return EmbeddedPolicy(POLICIES)
