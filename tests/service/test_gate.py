"""How many queries may read one department at once: its own limit, or by default half the server's query
workers (at least 2), so a department that stops answering never holds more than half the engines."""

from __future__ import annotations

import pytest

from trust.errors import QueryTimeout
from trust.service.gate import DepartmentGate


def _admitted(gate: DepartmentGate, department: str, most: int = 20) -> int:
    held = []
    try:
        for _ in range(most):
            held.append(gate.acquire([department], wait_s=0.05))
    except QueryTimeout as exc:
        assert department in exc.message and "Try again later" in exc.message
    finally:
        for slots in held:
            slots.release()
    return len(held)


@pytest.mark.parametrize(("workers", "expected"), [(8, 4), (12, 6), (3, 2)])
def test_by_default_half_the_workers_read_one_department(workers: int, expected: int):
    gate = DepartmentGate(lambda department: 0)
    gate.limit_engines(workers)
    assert _admitted(gate, "DWP") == expected


def test_a_departments_own_limit_wins_and_embedded_trusts_allow_two():
    gate = DepartmentGate(lambda department: 3 if department == "HMRC" else 0)
    gate.limit_engines(16)
    assert (_admitted(gate, "HMRC"), _admitted(gate, "DWP")) == (3, 8)
    assert _admitted(DepartmentGate(lambda department: 0), "DWP") == 2  # no server: no worker count
