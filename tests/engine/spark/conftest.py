"""One local Spark session for the Spark tests (``local[2]``, as CI runs it)."""

from __future__ import annotations

import pytest

from trust.engine.spark import session as spark_session

SETTINGS = spark_session.SparkSettings(master="local[2]", driver_memory="2g")


@pytest.fixture(scope="session")
def spark():
    return spark_session.get(SETTINGS)
