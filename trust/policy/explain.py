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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
    locations: Mapping[str, str] = field(default_factory=dict)  # "effect rule" -> "file:line" (rule_locations)

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
            "locations": dict(self.locations),
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
            if f"{effect} {rule}" in self.locations:
                line += f" ({self.locations[f'{effect} {rule}']})"
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


# The set each kind of contribution goes into, as a rule head starts (``deny contains ...``).
_HEADS = {"deny": "deny", "row_filter": "row_filters", "column_mask": "column_masks", "disclosure": "disclosure"}
_RULE_START = re.compile(r"^(?:default\s+)?[A-Za-z_]\w*")


def rule_locations(directory: Path, fired: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``"effect rule" -> "file:line"`` for each fired rule found under ``directory``.

    A rule is found by its name as a string literal in a policy module (``lib.denial("dwp.opt_out", ...)``,
    ``"rule": "dwp.opt_out"``); the line given is where that rule's head starts, preferring a rule that
    contributes the same kind (a ``deny`` for a denial). Thresholds named ``disclosure.<place>`` point at
    their entry in ``data/disclosure.json``. Rules whose name is computed are not found, and not listed.
    """
    from trust.policy.embedded import policy_modules

    sources = {str(p.relative_to(directory)): p.read_text() for p in policy_modules(directory)}
    found: dict[str, str] = {}
    for f in fired:
        effect, rule = str(f.get("effect", "")), str(f.get("rule", ""))
        where = _in_disclosure(directory, rule) if rule.startswith("disclosure.") else _in_rego(sources, effect, rule)
        if where:
            found[f"{effect} {rule}"] = where
    return found


def _in_rego(sources: Mapping[str, str], effect: str, rule: str) -> str | None:
    best: tuple[int, str] | None = None
    literal = json.dumps(rule)
    for name, source in sources.items():
        lines = source.splitlines()
        start = 0
        while (at := source.find(literal, start)) >= 0:
            start = at + 1
            row = source.count("\n", 0, at)
            head = next((r for r in range(row, -1, -1) if _RULE_START.match(lines[r])), row)
            rank = 0 if lines[head].startswith(_HEADS.get(effect, "\0")) else 1
            if best is None or rank < best[0]:
                best = (rank, f"{name}:{head + 1}")
    return best[1] if best else None


def _in_disclosure(directory: Path, rule: str) -> str | None:
    path = directory / "data" / "disclosure.json"
    if not path.exists():
        return None
    text = path.read_text()
    offset = 0
    for key in rule.removeprefix("disclosure.").split(".", 1):
        offset = text.find(json.dumps(key), offset)
        if offset < 0:
            return None
    return f"data/disclosure.json:{text.count(chr(10), 0, offset) + 1}"
