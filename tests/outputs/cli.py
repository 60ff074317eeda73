"""Run ``trust`` commands in-process, with the release commands registered.

``trust.cli.build_parser`` registers ``trust.cli_release`` once its two lines are added there;
until then this registers it the same way, so the tests drive the commands as ``trust`` will.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest

from trust import cli, cli_release


def _add(name: str, func: Callable[[argparse.Namespace], int], help: str, parent: Any) -> argparse.ArgumentParser:
    sp = parent.add_parser(name, help=help, description=help)
    sp.set_defaults(func=func)
    return sp


def build_parser() -> argparse.ArgumentParser:
    parser = _original()
    sub = cli_release._subcommands(parser)
    if "release" not in sub.choices:
        cli_release.register(sub, _add)
    return parser


_original = cli.build_parser


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, str]:
    """``trust ARGV``: its exit code, stdout and stderr."""
    monkeypatch.setattr(cli, "build_parser", build_parser)
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
