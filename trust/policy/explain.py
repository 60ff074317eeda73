"""``trust policy explain``: what the policy sees and decides for one user, project and query.

    >>> print(explain(trust, "bob", "demo-dwp-caseload", "SELECT region, count(*) FROM dwp.uc_claims GROUP BY 1").render())
    ... # doctest: +SKIP

It runs the same stages as a query up to the decision (parse, validate, resolve, describe, the
structural checks), builds the same input document, asks the configured decision point, and,
when the query is allowed, shows the SQL the trust would run with the obligations applied. Nothing
is executed and nothing is recorded. ``offline`` uses the catalogue registrations only, so it
works without the departments' servers (the SQL is then not shown).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trust.errors import QueryRejected, TrustError
from trust.policy.decision import Decision


@dataclass(frozen=True)
class Explanation:
    backend: str
    document: Mapping[str, Any]
    decision: Decision
    sql: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "input": self.document, "decision": self.decision.to_json(),
                "sql": self.sql, "notes": list(self.notes)}

    def render(self) -> str:
        d = self.decision
        out = [f"Policy: {self.backend}", "", "Input document:", json.dumps(self.document, indent=2, sort_keys=False), ""]
        out.append(f"Decision: {'ALLOW' if d.allow else 'DENY'}")
        out.append("")
        out.append("Rules that fired:")
        messages = {x["rule"]: x for x in d.deny}
        details = {("row_filter", f["rule"], f["dataset"], ""): f["expression"] for f in d.row_filters if "rule" in f}
        details |= {("column_mask", m["rule"], m["dataset"], m["column"]): f"{m['column']} := {m['expression']}"
                    for m in d.column_masks if "rule" in m}
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
        out.append("  row filters:  " + ("; ".join(f"{f['dataset']}: {f['expression']}" for f in d.row_filters) or "none"))
        out.append("  column masks: " + ("; ".join(f"{m['dataset']}.{m['column']}: {m['expression']}"
                                                    for m in d.column_masks) or "none"))
        s = d.disclosure
        out.append(f"  disclosure:   at least {s.min_units} units per cell; dominance n={s.dominance_n} k={s.dominance_k}; "
                   f"p% {s.p_percent}; rounding {s.rounding_base or 'none'}")
        for note in self.notes:
            out.append("")
            out.append(f"Note: {note}")
        if self.sql:
            out += ["", "SQL the trust would run:", self.sql]
        return "\n".join(out)


def explain_document(policy: Any, document: Mapping[str, Any]) -> Explanation:
    """Explain a ready-made input document (as in the policy cases)."""
    return Explanation(backend=policy.describe(), document=document, decision=policy.decide(document))


def explain(trust: Any, user_name: str, project_id: str, sql: str, *, offline: bool = False) -> Explanation:
    """Explain one query by ``user_name`` on ``project_id``; never raises for a denial."""
    from trust.sql.describe import describe
    from trust.sql.parse import parse
    from trust.sql.protect import check_structure
    from trust.sql.resolve import resolve
    from trust.sql.rewrite import obligations_from, rewrite
    from trust.sql.validate import validate

    cfg = trust.config
    user, project = trust.user(user_name), trust.project(project_id)
    catalog = trust.registrations() if offline else trust.catalog
    notes: list[str] = []
    parsed = parse(sql, max_length=cfg.max_sql_length, max_depth=cfg.max_depth)
    validate(parsed, max_depth=cfg.max_depth)
    description = describe(resolve(parsed, catalog), catalog)
    try:
        check_structure(description)
    except QueryRejected as exc:
        notes.append(f"the query breaks a structural rule before the policy is asked [{exc.rule}]: {exc.message}")
    document = trust.policy_input(user, project, description.shape.to_policy_input())
    decision = trust.policy.decide(document)
    plan_sql = None
    if decision.allow and not notes:
        if offline:
            notes.append("offline: the SQL is shown only when the departments' files can be read (drop --offline)")
        else:
            try:
                plan_sql = rewrite(description, catalog, obligations_from(decision.row_filters, decision.column_masks)).sql
            except TrustError as exc:
                notes.append(f"the obligations could not be applied: {exc.message}")
    backend = trust.policy.describe() if hasattr(trust.policy, "describe") else type(trust.policy).__name__
    return Explanation(backend=backend, document=document, decision=decision, sql=plan_sql, notes=tuple(notes))
