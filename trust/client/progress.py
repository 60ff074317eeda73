"""A progress line for queries that take more than a moment.

In Jupyter it is one display that updates in place and is cleared when the query ends; in a
terminal it is one line on stderr, rewritten with ``\\r``; elsewhere it is silent. The state
comes from the server: queued or running, seconds so far, and the query's time limit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class Progress(Protocol):
    def update(self, state: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


def describe(state: Mapping[str, Any]) -> str:
    limit = state.get("timeout_s")
    if state.get("state") == "queued":
        return f"query {state.get('query')} waiting for a free worker ({state.get('elapsed_s', 0):.0f} s)"
    of = f" of its {limit:g} s limit" if limit else ""
    return f"query {state.get('query')} running: {state.get('running_s', state.get('elapsed_s', 0)):.1f} s{of}"


class _Silent:
    def update(self, state: Mapping[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class _Callback:
    def __init__(self, func: Callable[[Mapping[str, Any]], None]) -> None:
        self.func = func

    def update(self, state: Mapping[str, Any]) -> None:
        self.func(state)

    def close(self) -> None:
        pass


class _Terminal:
    def __init__(self) -> None:
        self.width = 0

    def update(self, state: Mapping[str, Any]) -> None:
        text = "⏳ " + describe(state)
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


class _Notebook:
    def __init__(self) -> None:
        self.handle: Any = None

    def _html(self, text: str) -> Any:
        from IPython.display import HTML

        return HTML(f'<div class="trust-progress" style="color:#555">⏳ {text}</div>')

    def update(self, state: Mapping[str, Any]) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display(self._html(describe(state)), display_id=True)
        else:
            self.handle.update(self._html(describe(state)))

    def close(self) -> None:
        if self.handle is not None:
            from IPython.display import HTML

            self.handle.update(HTML(""))


def in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_for(setting: bool | Callable[[Mapping[str, Any]], None] | None) -> Progress:
    """``None``: Jupyter or a terminal if there is one; ``False``: silent; ``True``: always show."""
    if callable(setting):
        return _Callback(setting)
    if setting is False:
        return _Silent()
    if in_notebook():
        return _Notebook()
    if setting or sys.stderr.isatty():
        return _Terminal()
    return _Silent()
