"""A cap on concurrent reads per department, so a slow or hanging department cannot take every
query worker: a query acquires a slot at each department it reads (in one fixed order, so two
queries never wait on each other), and gives them back when its engine finishes. A query past its
time limit is answered at the limit, but its slots stay taken until the blocked read really ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from trust.errors import QueryTimeout

DEFAULT_MIN_READS = 2  # the default limit without a server's worker count (embedded), and its floor

CHECK_S = 0.25  # how often a query waiting for a slot looks whether it was cancelled


class Slots:
    """Slots held by one query; ``release`` is safe to call more than once, from any thread."""

    def __init__(self, held: list[threading.BoundedSemaphore]) -> None:
        self._held, self._lock = held, threading.Lock()

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for sem in reversed(held):
            sem.release()


class DepartmentGate:
    def __init__(self, max_reads: Callable[[str], int]) -> None:
        self.configured = max_reads  # per department (trust.config: department_max_reads, [departments.NAME])
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._engines: threading.BoundedSemaphore | None = None
        self._engine_count = 0
        self._lock = threading.Lock()

    def limit_engines(self, engines: int) -> None:
        """At most ``engines`` queries in the engine at once (the server's query workers); a query waits
        for its departments' slots first, so waiting on a slow department never takes an engine."""
        self._engine_count = max(1, int(engines))
        self._engines = threading.BoundedSemaphore(self._engine_count)

    def max_reads(self, department: str) -> int:
        """The department's own limit, or by default (0) half the query workers, at least 2: a department
        that stops answering holds at most half the engines, and a healthy one is not throttled below that."""
        configured = int(self.configured(department))
        if configured > 0:
            return configured
        return max(DEFAULT_MIN_READS, self._engine_count // 2)

    def _sem(self, department: str) -> threading.BoundedSemaphore:
        with self._lock:
            if department not in self._sems:
                self._sems[department] = threading.BoundedSemaphore(self.max_reads(department))
            return self._sems[department]

    def acquire(self, departments: Iterable[str], wait_s: float, check: Callable[[], None] = lambda: None) -> Slots:
        """A slot at every department, waiting at most ``wait_s`` in all; ``QueryTimeout`` naming the
        department whose reads are all taken otherwise. ``check`` is called while waiting and may raise
        (the query was cancelled): then nothing stays held."""
        deadline = time.monotonic() + max(0.0, wait_s)
        held: list[threading.BoundedSemaphore] = []
        for department in sorted(set(departments)):
            sem = self._sem(department)
            if not _acquire(sem, deadline, check, held):
                Slots(held).release()
                raise QueryTimeout(
                    f"{department}'s data is being read by {self.max_reads(department)} other queries, which have not finished "
                    f"within this query's {wait_s:g} s limit (its server may be slow). Try again later; other "
                    "departments' datasets are not affected.",
                    department=department,
                    timeout_s=wait_s,
                )
            held.append(sem)
        if self._engines is not None:
            if not _acquire(self._engines, deadline, check, held):
                Slots(held).release()
                raise QueryTimeout(
                    f"Every query worker stayed busy for this query's {wait_s:g} s limit. Try again later.",
                    timeout_s=wait_s,
                )
            held.append(self._engines)
        return Slots(held)


def _acquire(
    sem: threading.BoundedSemaphore, deadline: float, check: Callable[[], None], held: list[threading.BoundedSemaphore]
) -> bool:
    """``sem`` by ``deadline``, calling ``check`` every so often; if it raises, ``held`` is given back."""
    while True:
        try:
            check()
        except BaseException:
            Slots(held).release()
            raise
        left = deadline - time.monotonic()
        if sem.acquire(timeout=max(0.0, min(CHECK_S, left))):
            return True
        if left <= CHECK_S:
            return False
