"""``trust catalog``: the datasets, their status and versions, the data owners' refresh, and finding
data (``search``, each dataset's links and projects in ``show``, ``export --format dcat``).

Registered into the main parser by ``trust.cli.main.build_parser`` with ``register(sub, add)``.
Runs in-process over the trust at ``--home``, as its operator.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from trust.cli.common import trust_for
from trust.errors import TrustError


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
    page = trust.catalog.page(ds.id, trust.access.user(args.user) if args.user else None)
    by_key: dict[str, list[str]] = {}
    for link in page.links:
        by_key.setdefault(link.key, []).append(f"{link.dataset} ({link.department})")
    for key, others in by_key.items():
        print(f"links on {key} to: {', '.join(others)}")
    if not page.links:
        print("links: none (it shares no linkage key with another dataset)")
    whose = f"{args.user}'s projects" if args.user else "projects"
    print(f"{whose} that may use it: {', '.join(page.usable_by) or 'none'}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    trust = trust_for(args)
    user = trust.access.user(args.user) if args.user else None
    text = " ".join(args.text)
    hits = trust.catalog.search(text, user, project=args.project, limit=args.limit)
    if not hits:
        print(f"No dataset matches {text!r}. Try another word, or `trust catalog list --offline` for every dataset.")
        return 1
    table = Table(title=f"Datasets matching {text!r}, best first", title_justify="left")
    table.add_column("#", style="dim", justify="right")
    table.add_column("dataset", style="bold", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("department", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("why it matched", overflow="fold")
    table.add_column(f"usable by {args.user}'s projects" if user else "usable by projects", overflow="fold")
    for i, (hit, usable) in enumerate(hits, 1):
        ds = hit.dataset
        table.add_row(str(i), ds.id, ds.title, ds.department, f"{hit.score:.3f}", hit.why, ", ".join(usable) or "-")
    console = Console()
    if not console.is_terminal:  # piped or captured: wide enough that each dataset stays on a line or two
        console = Console(width=200)
    console.print(table)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    trust = trust_for(args)
    text = json.dumps(trust.catalog.dcat(args.base_url), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise TrustError(f"Could not write {args.output}: {exc.strerror}. Choose a file you can write.") from None
        print(f"wrote the catalogue as DCAT JSON-LD to {args.output}")
    else:
        print(text, end="")
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
    show.add_argument("--user", help="show which of this analyst's projects may use it (default: every project)")
    search = add(
        "search",
        cmd_search,
        "Find datasets: ranked by relevance over titles, descriptions, tags and columns, with synonyms and typos.",
        cat,
    )
    search.add_argument("text", nargs="+", help="what to look for, e.g. earnings by region")
    search.add_argument("--user", help="show which of this analyst's projects may use each (default: every project)")
    search.add_argument("--project", help="show only whether this project may use each")
    search.add_argument("--limit", type=int, default=20, help="most datasets to show (default 20)")
    export = add("export", cmd_export, "Export the catalogue's metadata for other catalogues to harvest.", cat)
    export.add_argument("--format", choices=["dcat"], required=True, help="dcat: DCAT (JSON-LD)")
    export.add_argument(
        "--base-url",
        default="http://localhost:8400",
        help="the trust server's public URL, under which dataset IRIs and access URLs are built",
    )
    export.add_argument("--output", "-o", help="write to this file (default: standard output)")
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
