"""Run ``trust`` commands in-process, as a user would from a terminal."""

from __future__ import annotations

import pytest

from trust import cli


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, str]:
    """``trust ARGV``: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
