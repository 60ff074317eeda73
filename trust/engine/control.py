"""One running query's line to its engine: whoever waits for it may cancel it, and the engine says how
many bytes it read from the departments when it finishes (an operator's figure, never an analyst's).

    >>> control = Control()
    >>> control.read(16_384)
    >>> control.bytes_read, control.cancelled
    (16384, False)
    >>> control.cancel()
    >>> control.cancelled
    True

The engine polls ``cancelled`` (and interrupts its work when it is set); ``bytes_read`` is ``None``
while the engine has nothing to say (the Spark engine never has).
"""

from __future__ import annotations

import threading


class Control:
    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self.bytes_read: int | None = None

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking as soon as the query is cancelled; whether it was."""
        return self._cancelled.wait(max(0.0, timeout))

    def read(self, nbytes: int) -> None:
        self.bytes_read = int(nbytes)
