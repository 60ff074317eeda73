"""One trust for many attack sequences, each in projects of its own.

Disclosure control keeps a history per project, so sequences sharing a project would see each
other's outputs and the result would depend on their order. Each sequence therefore gets its own
copies of the projects it names (same agreement, datasets and columns; only the id and members
differ), written into the trust's own copy of the policy data, which is how projects are added. One
trust, one catalogue load and one set of department servers serve all of them.

A second analyst for two-user attacks, ``eve`` (DWP), is added the public way (``add_user``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.attacks.cases import Actor, Sequence
from tests.attacks.catalogue import REPO_ROOT

EXTRA_USERS = (("eve", ("analyst",), "DWP"),)


@dataclass(frozen=True)
class Arena:
    trust: Any
    projects: Mapping[tuple[str, str], str]  # (sequence name, actor project) -> project id in this trust

    def session(self, sequence: Sequence, actor: Actor) -> Any:
        return self.trust.session(actor.user, self.projects[(sequence.name, actor.project)])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def policies_with_projects(target: Path, sequences: Iterable[Sequence]) -> dict[tuple[str, str], str]:
    """Copy ``policies/`` to ``target`` with a project per sequence and actor project; return the ids."""
    shutil.copytree(REPO_ROOT / "policies", target)
    path = target / "data" / "projects.json"
    projects = json.loads(path.read_text(encoding="utf-8"))
    ids: dict[tuple[str, str], str] = {}
    for i, seq in enumerate(sequences):
        members: dict[str, set[str]] = {}
        for actor in seq.actors:
            members.setdefault(actor.project, set()).add(actor.user)
        for label, users in members.items():
            base = projects[label.split("#", 1)[0]]
            pid = f"atk-{i:03d}-{_slug(label)}"
            projects[pid] = {**base, "title": f"{base['title']} (attack {seq.name})", "members": sorted(users)}
            ids[(seq.name, label)] = pid
    path.write_text(json.dumps(projects, indent=2), encoding="utf-8")
    return ids


def open_arena(home: Path, endpoints: Any, sequences: Iterable[Sequence], **settings: Any) -> Arena:
    """A trust at ``home`` pointing at the running departments, with every sequence's projects and users."""
    from trust.demo.environment import configure_home, seed_users
    from trust.service import Trust

    sequences = list(sequences)
    policies = home.parent / f"{home.name}-policies"
    ids = policies_with_projects(policies, sequences)
    configure_home(home, endpoints, policies_dir=str(policies), **settings)
    trust = Trust.open(home)
    seed_users(trust)
    users = getattr(trust, "access", trust)  # trust.access.add_user since the service layer became a package
    for name, roles, organisation in EXTRA_USERS:
        users.add_user(name, roles, organisation)
    return Arena(trust, ids)
