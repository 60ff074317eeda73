"""The policy's answer (DESIGN section 6, ``data.trust.decision``) as frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trust.errors import ConfigurationError


@dataclass(frozen=True)
class Disclosure:
    min_units: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_percent: float = 0.1
    rounding_base: int = 0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Disclosure:
        dom = raw.get("dominance") or {}
        return cls(
            min_units=int(raw.get("min_units", 10)),
            dominance_n=int(dom.get("n", 2)),
            dominance_k=float(dom.get("k", 0.9)),
            p_percent=float(raw.get("p_percent", 0.1)),
            rounding_base=int(raw.get("rounding_base") or 0),
        )


@dataclass(frozen=True)
class Decision:
    allow: bool
    deny: tuple[Mapping[str, str], ...]
    row_filters: tuple[Mapping[str, str], ...] = ()
    column_masks: tuple[Mapping[str, str], ...] = ()
    disclosure: Disclosure = field(default_factory=Disclosure)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Any) -> Decision:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("allow"), bool):
            raise ConfigurationError("The policy returned no decision (data.trust.decision must have a boolean 'allow').")
        obligations = raw.get("obligations") or {}
        deny = tuple(sorted(({"rule": str(d.get("rule", "?")), "message": str(d.get("message", ""))}
                             for d in raw.get("deny") or ()), key=lambda d: (d["rule"], d["message"])))
        allow = raw["allow"] and not deny  # fail closed: any denial wins
        return cls(
            allow=allow,
            deny=deny,
            row_filters=tuple(sorted((dict(f) for f in obligations.get("row_filters") or ()), key=repr)),
            column_masks=tuple(sorted((dict(m) for m in obligations.get("column_masks") or ()), key=repr)),
            disclosure=Disclosure.from_json(obligations.get("disclosure") or {}),
            raw=raw,
        )

    def to_json(self) -> dict[str, Any]:
        d = self.disclosure
        return {
            "allow": self.allow,
            "deny": [dict(x) for x in self.deny],
            "obligations": {
                "row_filters": [dict(x) for x in self.row_filters],
                "column_masks": [dict(x) for x in self.column_masks],
                "disclosure": {"min_units": d.min_units, "dominance": {"n": d.dominance_n, "k": d.dominance_k},
                               "p_percent": d.p_percent, "rounding_base": d.rounding_base or None},
            },
        }
