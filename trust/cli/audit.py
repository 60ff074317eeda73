"""``trust audit show`` and ``trust audit search``: the audit trail read by an administrator.

They run on the trust's home (``--home`` or ``$TRUST_HOME``), as ``trust audit verify`` and
``trust audit export`` do, and only read: nothing is written, so the hash chain and its head
stay as they were. Newest first, one line per event; ``--json`` for the whole payloads.

    trust audit show --limit 50
    trust audit search --user ana --kind query_refused,query_failed --since 2026-12-01
    trust audit search --project demo-employment-support --dataset dwp.uc_claims --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from trust.cli.common import trust_for

WIDE = 240  # columns when stdout is a file or a pipe, so each event stays one whole line


def _print(events: Sequence[Any], limit: int, as_json: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from trust.audit.search import datasets_of, event_json, summarise

    shown, more = events[:limit], len(events) > limit
    if as_json:
        print(json.dumps([event_json(e) for e in shown], indent=1, default=str))
        return
    if not shown:
        print("no audit events match")
        return
    console = Console(width=None if sys.stdout.isatty() else WIDE, highlight=False, soft_wrap=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name, justify in (
        ("#", "right"),
        ("time (UTC)", "left"),
        ("kind", "left"),
        ("user", "left"),
        ("project", "left"),
        ("dataset", "left"),
        ("summary", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
    for e in shown:
        table.add_row(
            str(e.seq),
            e.ts[:19].replace("T", " "),
            e.kind,
            e.actor,
            e.project or "",
            ";".join(datasets_of(e)),
            summarise(e),
        )
    console.print(table)
    if more:
        print(f"the newest {limit} shown; --limit N for more")


def _search(args: argparse.Namespace, **filters: Any) -> int:
    from trust.audit.search import audit_query

    query = audit_query(limit=args.limit + 1, **filters)  # one more, to know whether there are more
    events = trust_for(args).audit.search(query)
    try:
        _print(events, args.limit, args.json)
        sys.stdout.flush()
    except BrokenPipeError:  # `trust audit show | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    return _search(args)


def cmd_audit_search(args: argparse.Namespace) -> int:
    return _search(
        args,
        kinds=args.kind,
        user=args.user,
        project=args.project,
        dataset=args.dataset,
        since=args.since,
        until=args.until,
    )


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of events, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """``trust audit``'s subcommand group (made in trust.cli.main)."""
    for action in parser._actions:  # argparse keeps no public handle on a parser's subparsers
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="sub", required=True)


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``trust audit show`` and ``trust audit search`` to ``trust``'s subparsers."""
    audit = (
        _subcommands(sub.choices["audit"])
        if "audit" in sub.choices
        else sub.add_parser("audit", help="The audit trail.").add_subparsers(dest="sub", required=True)
    )
    show = add("show", cmd_audit_show, "Show the newest audit events, one line each, newest first.", audit)
    show.add_argument("--limit", type=_limit, default=20, help="how many events (default 20)")
    show.add_argument("--json", action="store_true", help="the events as JSON, with their whole payloads")

    search = add(
        "search",
        cmd_audit_search,
        "Find audit events by user, project, dataset, kind and time; every filter given must match.",
        audit,
    )
    search.add_argument("--user", help="events by this user, or about them (a token issued for them)")
    search.add_argument("--project", help="events of this project")
    search.add_argument("--dataset", help="events about this dataset, or outputs that read it")
    search.add_argument("--kind", help="kinds of event, comma-separated, e.g. query_refused,output_created")
    search.add_argument("--since", help="from this ISO date or time (UTC unless it says), e.g. 2026-12-01")
    search.add_argument("--until", help="to this ISO date (that whole day) or before this time")
    search.add_argument("--limit", type=_limit, default=100, help="at most this many, newest first (default 100)")
    search.add_argument("--json", action="store_true", help="the events as JSON, with their whole payloads")
