"""``trust policy diff --against DIR``: which recent decisions a candidate policy would change.

    >>> changes = diff_decisions(events, current=trust.policy, candidate=EmbeddedPolicy(Path("new")))  # doctest: +SKIP
    >>> print(changes.render())                                                                         # doctest: +SKIP

Every query the policy decided is audited with the policy input it was decided on (``policy_input``
in ``output_created`` and, for a policy refusal, ``query_refused`` events; trust/service/queries.py).
Each recorded input is decided again, exactly as recorded (its ``context.date`` included, so an
approval that has expired since does not count as a change), by the current policy and by the
candidate, and every difference is listed: allow or deny, the denying rules, row filters, column
masks and disclosure thresholds. Events recorded before inputs were audited, and refusals that came
before the policy was asked (a parse error, a structural rule), have no input and are only counted.
The input holds the query's shape (datasets, columns, aggregates, joins) and who asked, never data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trust.policy.decision import Decision
from trust.policy.select import Policy

REPLAYED_KINDS = ("output_created", "query_refused")


@dataclass(frozen=True)
class Change:
    """One audited decision that the candidate policy would decide differently."""

    seq: int
    ts: str
    kind: str
    user: str
    project: str
    changes: tuple[str, ...]  # each difference, as a person reads it
    flips: str | None  # "allow -> deny", "deny -> allow", or None when only obligations change

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "user": self.user,
            "project": self.project,
            "flips": self.flips,
            "changes": list(self.changes),
        }


@dataclass(frozen=True)
class PolicyDiff:
    replayed: int
    without_input: int
    per_project: Mapping[str, int]  # decisions replayed per project
    changes: tuple[Change, ...]

    def by_project(self) -> dict[str, list[Change]]:
        grouped: dict[str, list[Change]] = {}
        for c in self.changes:
            grouped.setdefault(c.project, []).append(c)
        return dict(sorted(grouped.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "without_input": self.without_input,
            "changed": len(self.changes),
            "projects": {
                project: {
                    "replayed": self.per_project.get(project, 0),
                    "changed": len(changes),
                    "decisions": [c.to_json() for c in changes],
                }
                for project, changes in self.by_project().items()
            },
        }

    def render(self) -> str:
        out = [
            f"Replayed {self.replayed} audited decision(s); {len(self.changes)} would change under the candidate policy."
        ]
        if self.without_input:
            out.append(
                f"{self.without_input} audited event(s) had no policy input to replay (recorded before inputs were "
                "audited, or refused before the policy was asked)."
            )
        for project, changes in self.by_project().items():
            flips = sum(1 for c in changes if c.flips)
            out += [
                "",
                f"{project}: {len(changes)} of {self.per_project.get(project, 0)} decision(s) change ({flips} flip)",
            ]
            for c in changes:
                out.append(f"  event {c.seq}  {c.ts[:19]}  {c.user}  {c.kind}")
                out += [f"      {line}" for line in c.changes]
        return "\n".join(out)


def _rules(decision: Decision) -> set[str]:
    return {str(d["rule"]) for d in decision.deny}


def _filters(decision: Decision) -> set[str]:
    return {f"{f['dataset']}: {f['expression']}" for f in decision.row_filters}


def _masks(decision: Decision) -> set[str]:
    return {f"{m['dataset']}.{m['column']} := {m['expression']}" for m in decision.column_masks}


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for k, v in value.items():
            flat |= _flatten(v, f"{prefix}{k}.")
        return flat
    return {prefix.rstrip("."): value}


def compare(before: Decision, after: Decision) -> tuple[list[str], str | None]:
    """The differences between two decisions on one input, and whether allow/deny flipped."""
    lines: list[str] = []
    flips = None
    if before.allow != after.allow:
        flips = "allow -> deny" if before.allow else "deny -> allow"
        lines.append(f"{'ALLOW -> DENY' if before.allow else 'DENY -> ALLOW'}")
    for what, old, new in (
        ("denied by", _rules(before), _rules(after)),
        ("row filter", _filters(before), _filters(after)),
        ("column mask", _masks(before), _masks(after)),
    ):
        lines += [f"+ {what} {x}" for x in sorted(new - old)]
        lines += [f"- {what} {x}" for x in sorted(old - new)]
    old_t, new_t = _flatten(before.disclosure.to_json()), _flatten(after.disclosure.to_json())
    for key in sorted(set(old_t) | set(new_t)):
        if old_t.get(key) != new_t.get(key):
            lines.append(f"threshold {key}: {json.dumps(old_t.get(key))} -> {json.dumps(new_t.get(key))}")
    return lines, flips


def replayable(events: Iterable[Any]) -> tuple[list[Any], int]:
    """The events that recorded a policy input, and how many of the others there were."""
    with_input, without = [], 0
    for e in events:
        if e.kind in REPLAYED_KINDS and isinstance(e.payload.get("policy_input"), Mapping):
            with_input.append(e)
        elif e.kind in REPLAYED_KINDS:
            without += 1
    return with_input, without


def diff_decisions(events: Sequence[Any], *, current: Policy, candidate: Policy) -> PolicyDiff:
    """Decide each audited input under ``current`` and ``candidate``; every decision that differs.

    ``events`` are ``trust.audit.log.AuditEvent`` (newest first, as the audit search gives them).
    """
    replay, without = replayable(events)
    per_project: dict[str, int] = {}
    changes: list[Change] = []
    for e in replay:
        document = e.payload["policy_input"]
        project = e.project or str(document.get("project", {}).get("id", "(no project)"))
        per_project[project] = per_project.get(project, 0) + 1
        lines, flips = compare(current.decide(document), candidate.decide(document))
        if lines:
            changes.append(Change(e.seq, e.ts, e.kind, e.actor, project, tuple(lines), flips))
    return PolicyDiff(len(replay), without, per_project, tuple(changes))
