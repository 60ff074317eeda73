"""One generated dataset shared by the demo generator's tests (it is deterministic)."""

from __future__ import annotations

import pytest

from trust.demo import generate as g

SCALE = 0.2


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> g.DemoData:
    return g.generate(tmp_path_factory.mktemp("demo"), scale=SCALE)
