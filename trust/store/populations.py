"""The populations of shown cells (``cell_populations``), for differencing (``trust.sdc.differencing``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from trust.sdc.differencing import Candidates, Population
from trust.sdc.sketch import sketch_arrays


class PopulationStore(Protocol):
    def insert(self, project: str, output_id: str, scheme: str, populations: Sequence[Population]) -> None: ...

    def candidates(self, project: str, scheme: str, family: str, low: int, high: int) -> Candidates: ...


class SqlitePopulations:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def insert(self, project: str, output_id: str, scheme: str, populations: Sequence[Population]) -> None:
        rows = [
            (project, output_id, p.row, fam, scheme, p.units, p.sketch.to_bytes(), p.definition)
            for p in populations
            for fam in p.families
        ]
        self.con.executemany(
            "INSERT OR REPLACE INTO cell_populations (project, output_id, row_index, family, scheme, units, sketch, "
            "definition) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def candidates(self, project: str, scheme: str, family: str, low: int, high: int) -> Candidates:
        """The project's stored cells of ``family`` with between ``low`` and ``high`` units, smallest first."""
        rows = self.con.execute(
            "SELECT output_id, row_index, units, sketch, definition FROM cell_populations "
            "WHERE project = ? AND scheme = ? AND family = ? AND units BETWEEN ? AND ? ORDER BY units",
            (project, scheme, family, low, high),
        ).fetchall()
        count, keys, checks = sketch_arrays([r[3] for r in rows])
        return Candidates(
            tuple((o, int(r)) for o, r, *_ in rows),
            np.array([r[2] for r in rows], dtype=np.int64),
            count,
            keys,
            checks,
            tuple(r[4] for r in rows),
        )


class _Readable(Protocol):
    def read(self) -> AbstractContextManager[Any]: ...


class ProjectHistory:
    """A project's stored populations, as the ``History`` that ``trust.sdc.differencing`` compares with."""

    def __init__(self, store: _Readable, project: str) -> None:
        self.store, self.project = store, project

    def candidates(self, scheme: str, family: str, low: int, high: int) -> Candidates:
        with self.store.read() as tx:
            found: Candidates = tx.populations.candidates(self.project, scheme, family, low, high)
        return found
