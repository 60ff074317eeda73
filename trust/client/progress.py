"""Progress for queries that take more than a moment: which stage the query is at, and for how long.

The state comes from the server (``GET /v1/queries/{id}``) or, embedded, from the service itself:
its ``stage`` (policy, waiting, reading, disclosure, recording) and ``elapsed_s``; never the bytes
read, which depend on the data (``trust.service.progress``). It is drawn by tqdm (``tqdm.auto``): an
ipywidgets bar in Jupyter, a line on stderr in a terminal, and nothing elsewhere; the bar goes when
the query ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

SHOW_AFTER_S = 1.0  # a query done sooner shows no progress at all
STAGES = {
    "queued": "queued",
    "policy": "policy decision",
    "waiting": "waiting for a read slot",
    "reading": "reading",
    "disclosure": "disclosure control",
    "recording": "recording the output",
    "done": "done",
    "cancelled": "cancelled",
    "failed": "failed",
}


class Progress(Protocol):
    def update(self, state: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


def stage_of(state: Mapping[str, Any]) -> str:
    """The stage, in words (a server without stages says only queued or running)."""
    stage = str(state.get("stage") or state.get("state") or "running")
    return STAGES.get(stage, stage)


def describe(state: Mapping[str, Any]) -> str:
    """``query q-… reading: 3.1 s of its 60 s limit``: the whole state in one line."""
    limit = state.get("timeout_s")
    of = f" of its {limit:g} s limit" if limit else ""
    return f"{_name(state)} {stage_of(state)}: {_elapsed(state)}{of}"


def _name(state: Mapping[str, Any]) -> str:
    return f"query {state['query']}" if state.get("query") else "query"


def _elapsed(state: Mapping[str, Any]) -> str:
    return f"{float(state.get('elapsed_s') or 0):.1f} s"


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


class _Bar:
    """One tqdm bar per query, shown once the query has taken more than a moment: the query and its
    stage as its description, the seconds since it was submitted after it."""

    def __init__(self, *, notebook: bool, after_s: float = SHOW_AFTER_S) -> None:
        self.notebook, self.shown_at = notebook, time.monotonic() + after_s
        self.bar: Any = None

    def _open(self) -> Any:
        if self.notebook:
            from tqdm.auto import tqdm  # type: ignore[import-untyped]  # ipywidgets in Jupyter
        else:
            from tqdm.std import tqdm  # type: ignore[import-untyped]
        return tqdm(total=None, leave=False, file=sys.stderr, bar_format="{desc}{postfix}", delay=1e-9)

    def update(self, state: Mapping[str, Any]) -> None:
        if self.bar is None:
            if time.monotonic() < self.shown_at:
                return
            self.bar = self._open()
        self.bar.set_description_str(f"{_name(state)} {stage_of(state)}", refresh=False)
        self.bar.set_postfix_str(_elapsed(state), refresh=False)  # the query's own clock, not the bar's
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_for(setting: bool | Callable[[Mapping[str, Any]], None] | None) -> Progress:
    """``None``: Jupyter or a terminal if there is one; ``False``: silent; ``True``: always show;
    a callable: given each state instead."""
    if callable(setting):
        return _Callback(setting)
    if setting is False:
        return _Silent()
    if in_notebook():
        return _Bar(notebook=True)
    if setting or sys.stderr.isatty():
        return _Bar(notebook=False)
    return _Silent()
