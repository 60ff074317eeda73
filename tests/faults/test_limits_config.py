"""Per-department limits in trust.toml: each department may have its own request timeout, retries and
cap on concurrent reads; a query across departments uses the strictest request limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust.config import Config, write_config
from trust.errors import ConfigurationError
from trust.service.catalogue import engine_limits


def test_a_department_may_have_its_own_limits(tmp_path: Path):
    write_config(
        tmp_path,
        locations={},
        credentials={},
        settings={"department_timeout_s": 8.0, "department_max_reads": 3},
        departments={"HMRC": {"timeout_s": 20.0, "max_reads": 1}, "DfE": {"timeout_s": 2.5, "retries": 0}},
    )
    config = Config.load(tmp_path, environ={})
    hmrc, dfe, dwp = config.department("HMRC"), config.department("DfE"), config.department("DWP")
    assert (hmrc.timeout_s, hmrc.retries, hmrc.max_reads) == (20.0, 1, 1)
    assert (dfe.timeout_s, dfe.retries, dfe.max_reads) == (2.5, 0, 3)
    assert (dwp.timeout_s, dwp.retries, dwp.max_reads) == (8.0, 1, 3)  # the settings, where a department has none
    both = engine_limits(config, ["HMRC", "DfE"])
    assert (both.http_timeout_s, both.http_retries) == (2.5, 0)  # the strictest of the departments read


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("timeout = 3", "unknown key(s) ['timeout']"),
        ("timeout_s = -1", "timeout_s in"),
        ('max_reads = "two"', "max_reads in"),
    ],
)
def test_a_wrong_department_table_is_a_clear_error(tmp_path: Path, table: str, words: str):
    (tmp_path / "trust.toml").write_text(f"[departments.DWP]\n{table}\n")
    with pytest.raises(ConfigurationError, match=r"\[departments\.DWP\]") as caught:
        Config.load(tmp_path, environ={})
    assert words in caught.value.message
