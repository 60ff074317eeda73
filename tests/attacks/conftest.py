"""One trust for the whole attack module (its own copy of the policy data, a project per sequence
and actor), and each sequence run and audited once however many tests read its result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.arena import Arena, open_arena
from tests.attacks.cases import Sequence, load_sequences
from tests.attacks.harness import Result, run
from tests.attacks.oracle import load_oracles

SEQUENCES = load_sequences()
ORACLES = load_oracles()


@pytest.fixture(scope="module")
def arena(departments: Any, tmp_path_factory: pytest.TempPathFactory) -> Arena:
    return open_arena(tmp_path_factory.mktemp("attacks") / "home", departments.endpoints, SEQUENCES)


@pytest.fixture(scope="module")
def audited(arena: Arena, data_dir: Path) -> Callable[[Sequence], Result]:
    done: dict[str, Result] = {}

    def get(seq: Sequence) -> Result:
        if seq.name not in done:
            done[seq.name] = run(arena, seq, data_dir)
        return done[seq.name]

    return get


@pytest.fixture(scope="module")
def oracle_arena(departments: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, Any]], Arena]:
    """A trust per distinct setting (the row limit), holding a fresh project per oracle variant."""
    arenas: dict[tuple[tuple[str, Any], ...], Arena] = {}

    def get(settings: dict[str, Any]) -> Arena:
        key = tuple(sorted(settings.items()))
        if key not in arenas:
            cases = [c for c in ORACLES if tuple(sorted(c.settings.items())) == key]
            home = tmp_path_factory.mktemp("oracles") / "home"
            arenas[key] = open_arena(home, departments.endpoints, [s for c in cases for s in c.sequences()], **settings)
        return arenas[key]

    return get
