"""``trust policy explain``: what the policy sees and decides for one user, project and query.

    >>> print(trust.queries.explain("bob", "demo-dwp-caseload", "SELECT region, count(*) FROM dwp.uc_claims GROUP BY 1").render())
    ... # doctest: +SKIP

The explanation is made by the same stages that run a query (``trust.service.pipeline``): the
input document, the decision, each rule that fired, the obligations, the refusal if any stage
refused, and, when the query is allowed, the SQL the trust would run. This module holds the value
and how it reads; ``explain_document`` explains a ready-made input document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trust.errors import TrustError
from trust.policy.decision import Decision


@dataclass(frozen=True)
class Explanation:
    backend: str
    document: Mapping[str, Any] | None  # None when a stage refused before the query was described
    decision: Decision | None
    sql: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    refusal: TrustError | None = field(default=None, compare=False)  # what running the query would raise

    @property
    def allowed(self) -> bool:
        """The query would run: no stage refused it."""
        return self.refusal is None and self.decision is not None and self.decision.allow

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "input": self.document,
            "decision": self.decision.to_json() if self.decision is not None else None,
            "refusal": self.refusal.to_dict() if self.refusal is not None else None,
            "sql": self.sql,
            "notes": list(self.notes),
        }

    def render(self) -> str:
        out = [f"Policy: {self.backend}", ""]
        if self.refusal is not None:
            out += [f"Refused: {type(self.refusal).__name__}: {self.refusal.message}", ""]
        if self.document is not None:
            out += ["Input document:", json.dumps(self.document, indent=2, sort_keys=False), ""]
        if self.decision is None:
            out += [f"Note: {note}" for note in self.notes]
            return "\n".join(out)
        d = self.decision
        out.append(f"Decision: {'ALLOW' if d.allow else 'DENY'}")
        out.append("")
        out.append("Rules that fired:")
        messages = {x["rule"]: x for x in d.deny}
        details = {("row_filter", f["rule"], f["dataset"], ""): f["expression"] for f in d.row_filters if "rule" in f}
        details |= {
            ("column_mask", m["rule"], m["dataset"], m["column"]): f"{m['column']} := {m['expression']}"
            for m in d.column_masks
            if "rule" in m
        }
        if not d.fired:
            out.append("  (none)")
        for f in d.fired:
            effect, rule = f.get("effect", "?"), f.get("rule", "?")
            line = f"  {effect:<12} {rule}"
            if effect == "deny" and rule in messages:
                deny = messages[rule]
                problem = deny["message"].removesuffix(deny.get("remedy", "")).strip()
                line += f"\n{'':16}{problem}"
                if deny.get("remedy"):
                    line += f"\n{'':16}to fix: {deny['remedy']}"
            elif effect in {"row_filter", "column_mask"}:
                key = (effect, rule, f.get("dataset", ""), f.get("column", ""))
                line += f"  on {f.get('dataset')}: " + details.get(key, "")
            out.append(line)
        extra = [x for x in d.deny if not any(f.get("rule") == x["rule"] for f in d.fired)]
        for x in extra:
            out.append(f"  {'deny':<12} {x['rule']}\n{'':16}{x['message']}")
        out.append("")
        out.append("Obligations:")
        out.append(
            "  row filters:  " + ("; ".join(f"{f['dataset']}: {f['expression']}" for f in d.row_filters) or "none")
        )
        out.append(
            "  column masks: "
            + ("; ".join(f"{m['dataset']}.{m['column']}: {m['expression']}" for m in d.column_masks) or "none")
        )
        s = d.disclosure
        out.append(
            f"  disclosure:   at least {s.min_units} units per cell; dominance n={s.dominance_n} k={s.dominance_k}; "
            f"p% {s.p_percent}; rounding {s.rounding_base or 'none'}"
        )
        for note in self.notes:
            out.append("")
            out.append(f"Note: {note}")
        if self.sql:
            out += ["", "SQL the trust would run:", self.sql]
        return "\n".join(out)


def explain_document(policy: Any, document: Mapping[str, Any]) -> Explanation:
    """Explain a ready-made input document (as in the policy cases)."""
    return Explanation(backend=policy.describe(), document=document, decision=policy.decide(document))
