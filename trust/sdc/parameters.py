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
from dataclasses import dataclass, field
from typing import Any

from trust.sdc.perturbation import Noise

NOISE = "noise"  # every published number perturbed by the cell key method (the default)
SUPPRESS = "suppress"  # exact numbers with primary and secondary suppression, where a department requires it


@dataclass(frozen=True)
class Parameters:
    """The thresholds the policy set for this output (DESIGN section 7); defaults are ACRO's."""

    min_units: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_percent: float = 0.1
    zeros_disclosive: bool = True
    rounding_base: int = 0
    noise: Noise | None = field(default_factory=Noise)  # None: suppression instead of perturbation

    @property
    def method(self) -> str:
        return NOISE if self.noise is not None else SUPPRESS

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Parameters:
        """From the decision's ``disclosure`` obligation (nested ``dominance``) or a flat mapping."""
        dom = raw.get("dominance") or {}
        pert = raw.get("perturbation") or {}
        method = str(pert.get("method", NOISE))
        if method not in (NOISE, SUPPRESS):
            raise ValueError(f"perturbation method {method!r} is neither {NOISE!r} nor {SUPPRESS!r}")
        defaults = Noise()
        noise = (
            Noise(
                max_deviation=int(pert.get("max_deviation", defaults.max_deviation)),
                variance=float(pert.get("variance", defaults.variance)),
                top_share=float(pert.get("top_share", defaults.top_share)),
                cell_share=float(pert.get("cell_share", defaults.cell_share)),
                magnitude_variance=float(pert.get("magnitude_variance", defaults.magnitude_variance)),
                small_values=int(pert.get("small_values", defaults.small_values)),
            )
            if method == NOISE
            else None
        )
        if noise is not None and not 0 <= noise.small_values < noise.max_deviation:
            raise ValueError(
                f"perturbation small_values {noise.small_values} must be from 0 to below max_deviation {noise.max_deviation}"
            )
        return cls(
            min_units=int(raw.get("min_units", 10)),
            dominance_n=int(dom.get("n", raw.get("dominance_n", 2))),
            dominance_k=float(dom.get("k", raw.get("dominance_k", 0.9))),
            p_percent=float(raw.get("p_percent", 0.1)),
            zeros_disclosive=bool(raw.get("zeros_disclosive", True)),
            rounding_base=int(raw.get("rounding_base") or 0),
            noise=noise,
        )

    def to_json(self) -> dict[str, Any]:
        """Everything, for the trust's own records and the checkers."""
        return {
            "min_units": self.min_units,
            "dominance": {"n": self.dominance_n, "k": self.dominance_k},
            "p_percent": self.p_percent,
            "zeros_disclosive": self.zeros_disclosive,
            "rounding_base": self.rounding_base or None,
            "perturbation": self._perturbation(),
        }

    def _perturbation(self) -> dict[str, Any]:
        if self.noise is None:
            return {"method": SUPPRESS}
        n = self.noise
        return {
            "method": NOISE,
            "max_deviation": n.max_deviation,
            "variance": n.variance,
            "top_share": n.top_share,
            "cell_share": n.cell_share,
            "magnitude_variance": n.magnitude_variance,
            "small_values": n.small_values,
        }

    def public(self) -> Parameters:
        """The parameters an analyst's copy of a report carries (``public_json``); the rest at their defaults."""
        return Parameters.from_json(self.public_json())

    def public_json(self) -> dict[str, Any]:
        """What may leave the trust with an output: the minimum units (so a reader knows what a shown cell
        guarantees) and any rounding (so they read the numbers right). The dominance and p% parameters
        stay inside: knowing them exactly helps calibrate a probe of a dominated cell. The perturbation's
        method and bounds are public, as ONS and ABS publish theirs: a reader needs them to read the numbers."""
        return {
            "min_units": self.min_units,
            "rounding_base": self.rounding_base or None,
            "perturbation": self._perturbation(),
        }
