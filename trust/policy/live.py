"""The policy with the agreements in force: ``data.projects`` is the projects in policy data plus every
project an approved application made (``trust.service.agreements``), used from the next decision on.

Agreements live in the trust's store, not in files, so no restart and no file edit is needed. Before each
decision the trust reads the agreements' version (one small SQLite read); when it moved, the embedded
policy is built again with the new projects, or an OPA server is sent them (``data.projects``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trust.policy.data import policy_data
from trust.policy.decision import Decision


class LivePolicy:
    def __init__(
        self,
        base: Any,
        *,
        directory: Path,
        version: Callable[[], int],
        projects: Callable[[], Mapping[str, Any]],
    ) -> None:
        self._base = base
        self._current = base
        self.backend = base.backend
        self.directory = directory
        self._version_of = version
        self._projects = projects
        self._version = 0  # the base policy holds the file projects, which is version 0 (no agreements)
        self._lock = threading.Lock()

    def _policy(self) -> Any:
        version = self._version_of()
        if version == self._version:
            return self._current
        with self._lock:
            if version != self._version:
                projects = dict(self._projects())
                if self.backend == "embedded":
                    from trust.policy.embedded import EmbeddedPolicy

                    self._current = EmbeddedPolicy(
                        self.directory, data={**policy_data(self.directory), "projects": projects}
                    )
                else:
                    self._base.publish_data("projects", projects)
                self._version = version
        return self._current

    def decide(self, document: Mapping[str, Any]) -> Decision:
        return self._policy().decide(document)

    def describe(self) -> str:
        return f"{self._base.describe()}; projects include approved agreements (version {self._version})"

    def __getattr__(self, name: str) -> Any:  # evaluate, query and the rest: the policy in force
        return getattr(self._policy(), name)
