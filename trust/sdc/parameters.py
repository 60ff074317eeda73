"""The disclosure parameters of one output: one frozen value, built by the policy layer, read by ``sdc``.

The policy's obligations carry them as JSON (``{"min_units": 10, "dominance": {"n": 2, "k": 0.9},
...}``); ``Parameters.from_json`` is the only way in, and a malformed value fails closed there.

    >>> p = Parameters.from_json({"min_units": 12, "dominance": {"n": 3, "k": 0.8}})
    >>> (p.min_units, p.dominance_n, p.dominance_k, p.p_percent)
    (12, 3, 0.8, 0.1)
    >>> Parameters.from_json(p.to_json()) == p
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parameters:
    """The thresholds the policy set for this output (DESIGN section 7); defaults are ACRO's."""

    min_units: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_percent: float = 0.1
    zeros_disclosive: bool = True
    rounding_base: int = 0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Parameters:
        """From the decision's ``disclosure`` obligation (nested ``dominance``) or a flat mapping."""
        dom = raw.get("dominance") or {}
        return cls(
            min_units=int(raw.get("min_units", 10)),
            dominance_n=int(dom.get("n", raw.get("dominance_n", 2))),
            dominance_k=float(dom.get("k", raw.get("dominance_k", 0.9))),
            p_percent=float(raw.get("p_percent", 0.1)),
            zeros_disclosive=bool(raw.get("zeros_disclosive", True)),
            rounding_base=int(raw.get("rounding_base") or 0),
        )

    def to_json(self) -> dict[str, Any]:
        """Everything, for the trust's own records and the checkers."""
        return {
            "min_units": self.min_units,
            "dominance": {"n": self.dominance_n, "k": self.dominance_k},
            "p_percent": self.p_percent,
            "zeros_disclosive": self.zeros_disclosive,
            "rounding_base": self.rounding_base or None,
        }

    def public_json(self) -> dict[str, Any]:
        """What may leave the trust with an output: the minimum units (so a reader knows what a shown cell
        guarantees) and any rounding (so they read the numbers right). The dominance and p% parameters
        stay inside: knowing them exactly helps calibrate a probe of a dominated cell."""
        return {"min_units": self.min_units, "rounding_base": self.rounding_base or None}
