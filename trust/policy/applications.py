"""Assessing a data-sharing application with the policy: what would block its approval, and what to note.

The service calls ``assess`` while an application is drafted; the rules are the policy owners' Rego
(``policies/applications/``, ``data.trust.applications.assessment``), evaluated by the same embedded
engine as every query. ``gateways`` and ``purposes`` read the register and the controlled list the
rules check against (``policies/data/gateways.json``, ``purposes.json``).

    >>> a = assess(Path("policies"), application)   # doctest: +SKIP
    >>> [f.message for f in a.blockers]              # doctest: +SKIP
    ['`nino` is a direct identifier and cannot be requested. Remove it from dwp.uc_claims; ...']

It fails closed: a policy that cannot be evaluated, or answers in the wrong shape, gives one blocker,
``applications.policy_error``, so nothing is approved on a policy that did not run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regopy

from trust.errors import ConfigurationError
from trust.policy.data import policy_data
from trust.policy.embedded import UNDEFINED, EmbeddedPolicy, PolicyFailure, policy_modules

QUERY = "data.trust.applications.assessment"
POLICY_ERROR = "applications.policy_error"


@dataclass(frozen=True, order=True)
class Finding:
    """One thing the policy found: its rule, a message to act on, and what it is about (or ``None``)."""

    rule: str
    message: str
    department: str | None = None
    dataset: str | None = None
    column: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> Finding:
        if not isinstance(raw, Mapping) or not _text(raw.get("rule")) or not _text(raw.get("message")):
            raise ConfigurationError(f"The policy returned a finding without a rule and a message: {raw!r}.")
        about = {k: raw.get(k) for k in ("department", "dataset", "column")}
        if any(v is not None and not isinstance(v, str) for v in about.values()):
            raise ConfigurationError(
                f"The policy returned a finding whose department, dataset or column is not text: {raw!r}."
            )
        return cls(raw["rule"], raw["message"], **about)


@dataclass(frozen=True)
class Assessment:
    """The policy's assessment of an application: approvable only when nothing blocks it."""

    blockers: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def approvable(self) -> bool:
        return not self.blockers

    @classmethod
    def from_json(cls, raw: Any) -> Assessment:
        if not isinstance(raw, Mapping) or not all(isinstance(raw.get(k), list) for k in ("blockers", "warnings")):
            raise ConfigurationError(f"{QUERY} must be an object with lists 'blockers' and 'warnings'.")
        return cls(
            tuple(sorted({Finding.from_json(f) for f in raw["blockers"]})),
            tuple(sorted({Finding.from_json(f) for f in raw["warnings"]})),
        )

    @classmethod
    def failed(cls, reason: str) -> Assessment:
        return cls(
            (
                Finding(
                    POLICY_ERROR,
                    f"The policy could not assess the application ({reason}), so it cannot be approved; "
                    "policy owners: run `trust policy check` and `trust policy test`.",
                ),
            ),
            (),
        )


@dataclass(frozen=True)
class Gateway:
    """An entry in the register of legal gateways (``policies/data/gateways.json``, keyed by id)."""

    id: str
    name: str
    citation: str
    departments: tuple[str, ...]
    purposes: tuple[str, ...]
    data: str | tuple[str, ...]  # "all", or the dataset ids it covers
    max_years: int
    requires_dpia: bool
    requires_accredited_researchers: bool
    notes: str = ""

    @classmethod
    def from_json(cls, id: str, raw: Mapping[str, Any]) -> Gateway:
        data = raw.get("data", ())
        return cls(
            id=id,
            name=str(raw["name"]),
            citation=str(raw["citation"]),
            departments=tuple(raw["departments"]),
            purposes=tuple(raw["purposes"]),
            data=data if data == "all" else tuple(data),
            max_years=int(raw["max_years"]),
            requires_dpia=bool(raw["requires_dpia"]),
            requires_accredited_researchers=bool(raw["requires_accredited_researchers"]),
            notes=str(raw.get("notes", "")),
        )


@dataclass(frozen=True)
class Purpose:
    """A purpose from the controlled list (``policies/data/purposes.json``, keyed by id)."""

    id: str
    name: str
    description: str


def gateways(policies_dir: Path) -> dict[str, Gateway]:
    """The register of legal gateways, by id."""
    raw = policy_data(policies_dir).get("gateways") or {}
    try:
        return {id: Gateway.from_json(id, entry) for id, entry in raw.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"The register of legal gateways (data/gateways.json) is malformed ({exc!r}). Fix it and run `trust policy check`."
        ) from None


def purposes(policies_dir: Path) -> dict[str, Purpose]:
    """The controlled list of purposes, by id."""
    raw = policy_data(policies_dir).get("purposes") or {}
    try:
        return {id: Purpose(id, str(p["name"]), str(p.get("description", ""))) for id, p in raw.items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            f"The list of purposes (data/purposes.json) is malformed ({exc!r}). Fix it and run `trust policy check`."
        ) from None


_lock = threading.Lock()
_policies: dict[Path, tuple[tuple[tuple[str, int, int], ...], EmbeddedPolicy]] = {}


def _stamp(directory: Path) -> tuple[tuple[str, int, int], ...]:
    paths = policy_modules(directory) + sorted((directory / "data").glob("*"))
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def _policy(directory: Path) -> EmbeddedPolicy:
    """The compiled policy for ``directory``, rebuilt only when a module or data file changes."""
    directory = directory.resolve()
    stamp = _stamp(directory)
    with _lock:
        cached = _policies.get(directory)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    policy = EmbeddedPolicy(directory, query=QUERY)
    with _lock:
        _policies[directory] = (stamp, policy)
    return policy


def assess(policies_dir: Path, application: Mapping[str, Any]) -> Assessment:
    """The policy's blockers and warnings for ``application`` (the ``input.application`` document)."""
    try:
        value = _policy(policies_dir).evaluate({"application": dict(application)})
        if value is UNDEFINED:
            raise PolicyFailure(f"{QUERY} is undefined")
        return Assessment.from_json(value)
    except (PolicyFailure, ConfigurationError, regopy.RegoError, OSError, ValueError, TypeError) as exc:
        return Assessment.failed(getattr(exc, "message", None) or str(exc))


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
