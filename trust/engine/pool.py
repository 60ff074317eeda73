"""Sandboxes opened ahead of time, each used by one query and then closed.

Opening a sandbox (a DuckDB connection, httpfs loaded, secrets made, access narrowed, the
configuration locked) costs tens of milliseconds: more than the rest of a small query's
governance. The pool keeps a few ready for the accesses queries used recently, so a query takes
one that is ready and another is opened in the background. A sandbox is never used twice: what
one query left in it (caches, settings it could not change anyway) never reaches the next.

    >>> pool = SandboxPool(ready_per_access=1)                             # doctest: +SKIP
    >>> con = pool.take(access, limits, metadata_cache=True)               # doctest: +SKIP

An access is the exact files, directories and secrets of one query's datasets, so two queries
share ready sandboxes only when they may read exactly the same things.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor

import duckdb

from trust.engine.sandbox import Access, Limits, open_sandbox

log = logging.getLogger("trust.engine")

_Key = tuple[Access, Limits, bool]

# One background opener for every pool in the process: opening is short, and one at a time keeps it
# from competing with running queries for more than one core.
_opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trust-sandbox-opener")


class SandboxPool:
    """Ready sandboxes per access, at most ``ready_per_access`` each and ``max_ready`` in all."""

    def __init__(self, *, ready_per_access: int = 2, max_ready: int = 8) -> None:
        self.ready_per_access = ready_per_access
        self.max_ready = max_ready
        self._lock = threading.Lock()
        self._ready: OrderedDict[_Key, deque[duckdb.DuckDBPyConnection]] = OrderedDict()  # least recent first
        self._pending: dict[_Key, int] = {}
        self._closed = False

    def take(self, access: Access, limits: Limits, *, metadata_cache: bool = False) -> duckdb.DuckDBPyConnection:
        """A sandbox no query has used: a ready one if there is one, else one opened now. Either way one
        is opened in the background for the next query with the same access."""
        key: _Key = (access, limits, metadata_cache)
        con = None
        forgotten: list[duckdb.DuckDBPyConnection] = []
        with self._lock:
            ready = self._ready.get(key)
            if ready:
                con = ready.popleft()
            if self.ready_per_access > 0 and not self._closed:
                self._ready.setdefault(key, deque())
                self._ready.move_to_end(key)
                while len(self._ready) > self.max_ready:  # forget the least recent accesses
                    _, dropped = self._ready.popitem(last=False)
                    forgotten += dropped
                self._schedule(key)
        for old in forgotten:
            old.close()
        return con if con is not None else open_sandbox(access, limits, metadata_cache=metadata_cache)

    def ready(self) -> int:
        """How many sandboxes are open and waiting."""
        with self._lock:
            return sum(len(q) for q in self._ready.values())

    def close(self) -> None:
        """Close every ready sandbox; later takes open their own and nothing more is kept."""
        with self._lock:
            self._closed = True
            waiting = [c for q in self._ready.values() for c in q]
            self._ready.clear()
        for con in waiting:
            con.close()

    def _schedule(self, key: _Key) -> None:
        """With the lock held: open more for ``key`` in the background, up to its share."""
        while len(self._ready.get(key, ())) + self._pending.get(key, 0) < self.ready_per_access:
            self._pending[key] = self._pending.get(key, 0) + 1
            try:
                _opener.submit(self._open, key)
            except RuntimeError:  # the interpreter is shutting down
                self._pending[key] -= 1
                return

    def _open(self, key: _Key) -> None:
        access, limits, metadata_cache = key
        try:
            con = open_sandbox(access, limits, metadata_cache=metadata_cache)
        except Exception:  # noqa: BLE001 - a query opening its own will report the cause
            log.warning("a sandbox could not be opened ahead of time", exc_info=True)
            with self._lock:
                self._pending[key] -= 1
            return
        surplus: list[duckdb.DuckDBPyConnection] = []
        with self._lock:
            self._pending[key] -= 1
            if self._closed or key not in self._ready:
                surplus.append(con)
            else:
                self._ready[key].append(con)
                surplus += self._evict()
        for extra in surplus:
            extra.close()

    def _evict(self) -> list[duckdb.DuckDBPyConnection]:
        """With the lock held: the oldest ready sandboxes of the least recent accesses, over ``max_ready``."""
        out: list[duckdb.DuckDBPyConnection] = []
        total = sum(len(q) for q in self._ready.values())
        for key in list(self._ready):
            while total > self.max_ready and self._ready[key]:
                out.append(self._ready[key].popleft())
                total -= 1
            if not self._ready[key] and not self._pending.get(key):
                del self._ready[key]
            if total <= self.max_ready:
                break
        return out
