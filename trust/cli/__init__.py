"""The ``trust`` command line: ``trust.cli.main`` (the console script) and its subcommands."""

from trust.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
