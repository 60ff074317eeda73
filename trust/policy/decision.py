"""The policy's answer (DESIGN section 6, ``data.trust.decision``) as frozen values.

Whatever evaluates the policy (regopy in-process or an OPA server) hands its raw JSON to
``Decision.from_json``; anything malformed is refused there, so a broken policy fails closed.

    >>> d = Decision.from_json({"allow": True, "deny": [], "obligations": {}})
    >>> d.allow, d.disclosure.min_units
    (True, 10)
    >>> Decision.refused("trust.policy_error", "The policy failed.", "Run `trust policy check`.").allow
    False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trust.errors import ConfigurationError
from trust.sdc.parameters import Parameters

_EFFECTS = {"deny": 0, "row_filter": 1, "column_mask": 2, "disclosure": 3}


def _deny_order(d: Mapping[str, str]) -> tuple[int, str, str]:
    # The trust's own rules (people, projects) are the most fundamental reasons: list them first.
    return (0 if d["rule"].startswith("trust.") else 1, d["rule"], d["message"])


def _denial(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw.get("rule") or not raw.get("message"):
        raise ConfigurationError(f"The policy returned a denial without a rule and a message: {raw!r}.")
    out = {"rule": str(raw["rule"]), "message": str(raw["message"])}
    if raw.get("remedy"):
        out["remedy"] = str(raw["remedy"])
    return out


def _obligation(raw: Any, keys: tuple[str, ...], what: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or any(not isinstance(raw.get(k), str) or not raw.get(k) for k in keys):
        raise ConfigurationError(f"The policy returned a {what} without {', '.join(keys)}: {raw!r}.")
    return {k: str(v) for k, v in raw.items() if isinstance(v, str)}


@dataclass(frozen=True)
class Decision:
    allow: bool
    deny: tuple[Mapping[str, str], ...]
    row_filters: tuple[Mapping[str, str], ...] = ()
    column_masks: tuple[Mapping[str, str], ...] = ()
    disclosure: Parameters = field(default_factory=Parameters)
    fired: tuple[Mapping[str, str], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, raw: Any) -> Decision:
        """The decision from the policy's JSON; raises ``ConfigurationError`` if it is malformed."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("allow"), bool):
            raise ConfigurationError(
                "The policy returned no decision (data.trust.decision must have a boolean 'allow')."
            )
        obligations = raw.get("obligations") or {}
        if not isinstance(obligations, Mapping):
            raise ConfigurationError("The policy's obligations must be an object.")
        deny = tuple(sorted((_denial(d) for d in raw.get("deny") or ()), key=_deny_order))
        filters = tuple(
            _obligation(f, ("dataset", "expression"), "row filter") for f in obligations.get("row_filters") or ()
        )
        masks = tuple(
            _obligation(m, ("dataset", "column", "expression"), "column mask")
            for m in obligations.get("column_masks") or ()
        )
        seen: dict[tuple[str, str], str] = {}
        for m in masks:
            # Two different masks on one column cannot both hold: refuse rather than pick one.
            if seen.setdefault((m["dataset"], m["column"]), m["expression"]) != m["expression"]:
                raise ConfigurationError(f"The policy returned two different masks for {m['dataset']}.{m['column']}.")
        try:
            disclosure = Parameters.from_json(obligations.get("disclosure") or {})
        except (TypeError, ValueError, AttributeError):
            raise ConfigurationError("The policy's disclosure thresholds are not numbers.") from None
        listed = raw.get("fired")
        if listed is None:  # the rules that shaped the decision, read from its parts
            listed = (
                [{"rule": d["rule"], "effect": "deny"} for d in deny]
                + [{"rule": f["rule"], "effect": "row_filter", "dataset": f["dataset"]} for f in filters if "rule" in f]
                + [
                    {"rule": m["rule"], "effect": "column_mask", "dataset": m["dataset"], "column": m["column"]}
                    for m in masks
                    if "rule" in m
                ]
                + [{"rule": str(r), "effect": "disclosure"} for r in raw.get("disclosure_rules") or ()]
            )
        fired = tuple(
            sorted(
                ({str(k): str(v) for k, v in f.items()} for f in listed if isinstance(f, Mapping)),
                key=lambda f: (_EFFECTS.get(f.get("effect", ""), 9), f.get("rule", ""), repr(sorted(f.items()))),
            )
        )
        return cls(
            allow=raw["allow"] and not deny,  # fail closed: any denial wins
            deny=deny,
            row_filters=tuple(sorted(filters, key=lambda f: (f["dataset"], f["expression"]))),
            column_masks=tuple(sorted(masks, key=lambda m: (m["dataset"], m["column"]))),
            disclosure=disclosure,
            fired=fired,
            raw=raw,
        )

    @classmethod
    def refused(cls, rule: str, problem: str, remedy: str) -> Decision:
        """A denial made by the trust itself, when the policy could not give an answer."""
        return cls(
            allow=False,
            deny=({"rule": rule, "message": f"{problem} {remedy}", "remedy": remedy},),
            fired=({"effect": "deny", "rule": rule},),
        )

    @property
    def rules(self) -> tuple[str, ...]:
        """The denying rules' names, in order."""
        return tuple(d["rule"] for d in self.deny)

    def to_json(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "deny": [dict(x) for x in self.deny],
            "obligations": {
                "row_filters": [dict(x) for x in self.row_filters],
                "column_masks": [dict(x) for x in self.column_masks],
                "disclosure": self.disclosure.to_json(),
            },
            "fired": [dict(x) for x in self.fired],
        }
