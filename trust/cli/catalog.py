"""``trust catalog``: the datasets, their status and versions, and the data owners' refresh.

Registered into the main parser by ``trust.cli.main.build_parser`` with ``register(sub, add)``.
Runs in-process over the trust at ``--home``, as its operator.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from trust.cli.common import trust_for


def cmd_list(args: argparse.Namespace) -> int:
    from trust.catalog import Status
    from trust.outputs.render import render_text

    trust = trust_for(args)
    if args.offline:
        registered = [(d.id, d.department, d.title, len(d.columns)) for d in trust.catalog.registrations()]
        print(render_text(["dataset", "department", "title", "columns"], registered))
        return 0
    catalog = trust.catalog.bound()
    rows = [
        (d.id, d.department, d.status.value, d.version or "", d.row_count if d.files else "", d.reason) for d in catalog
    ]
    print(render_text(["dataset", "department", "status", "version", "rows", "why"], rows))
    for d in catalog:
        detail = trust.catalog.detail(d.id)
        if detail and detail != d.reason:
            print(f"  {d.id}: {detail}")
    return 0 if any(d.status is Status.AVAILABLE for d in catalog) else 1


def cmd_show(args: argparse.Namespace) -> int:
    from trust.outputs.render import render_text

    trust = trust_for(args)
    ds = (trust.catalog.registrations() if args.offline else trust.catalog.bound()).get(args.dataset)
    print(f"{ds.id}: {ds.title} ({ds.department})")
    if ds.description:
        print(ds.description)
    print(f"unit: {ds.unit_key}; location: {', '.join(ds.location)}")
    if not args.offline:
        print(f"status: {ds.status.value}{': ' + ds.reason if ds.reason else ''}; version {ds.version or 'none'}")
    if ds.files:
        print(
            f"{ds.row_count:,} rows in {len(ds.files)} files, {ds.size_bytes:,} bytes; fingerprint {ds.fingerprint[:16]}"
        )
    print(
        render_text(
            ["column", "type", "pinned", "role", "description"],
            [(c.name, c.type or "", c.pinned_type or "", c.role.value, c.description) for c in ds.columns],
        )
    )
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from trust.outputs.render import render_text

    trust = trust_for(args)
    versions = trust.catalog.versions(args.dataset)
    change = trust.catalog.changed().get(args.dataset.lower())
    print(
        render_text(
            ["version", "accepted", "by", "files", "rows", "superseded"],
            [
                (v.id, v.created, v.accepted_by, len(v.manifest.files), v.manifest.rows, v.superseded or "")
                for v in versions
            ],
        )
    )
    if change is not None:
        print(f"changed at the source since {change.version} (found {change.found}): {'; '.join(change.changes)}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    trust = trust_for(args)
    before = {v.id for v in trust.catalog.versions(args.dataset)}
    version = trust.catalog.refresh(args.user, args.dataset)
    if version.id in before:
        print(f"{args.dataset}: unchanged at the source; version {version.id} stands")
    else:
        print(
            f"{args.dataset}: version {version.id} accepted by {args.user} "
            f"({len(version.manifest.files)} files, {version.manifest.rows:,} rows)"
        )
    return 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    cat = sub.add_parser("catalog", help="The catalogue: datasets, status, versions.").add_subparsers(
        dest="sub", required=True
    )
    ls = add("list", cmd_list, "List registered datasets with their status and version.", cat)
    ls.add_argument("--offline", action="store_true", help="registrations only; do not contact departments")
    show = add("show", cmd_show, "Show one dataset's columns, roles, types and status.", cat)
    show.add_argument("dataset")
    show.add_argument("--offline", action="store_true", help="registrations only; do not contact departments")
    versions = add("versions", cmd_versions, "List a dataset's accepted versions, and any change found since.", cat)
    versions.add_argument("dataset")
    refresh = add(
        "refresh",
        cmd_refresh,
        "Accept what a department serves now as the dataset's next version (its data owner, or an administrator).",
        cat,
    )
    refresh.add_argument("dataset")
    refresh.add_argument("--user", required=True, help="the data owner accepting it (recorded in the audit trail)")
