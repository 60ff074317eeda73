"""What every ``trust`` subcommand shares: the trust it works on."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trust.service import Trust


def trust_for(args: argparse.Namespace) -> Trust:
    """The trust at ``--home`` (or $TRUST_HOME); the service is loaded only by commands that need it."""
    from trust.service import Trust

    return Trust.open(Path(args.home) if getattr(args, "home", None) else None)
