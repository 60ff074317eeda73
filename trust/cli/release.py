"""``trust release list | status | download | comments | comment | diff | replace`` and ``trust audit export``.

Registered into the main parser by ``trust.cli.main.build_parser`` with ``register(sub, add)``. The
release commands talk to a trust server when ``--url`` or ``TRUST_URL`` is set (as the user of
``TRUST_TOKEN``: an analyst's view), and otherwise open the trust at ``--home`` in-process, as
``--user`` (an operator's view, through the same service layer).

    trust release status rel-1a2b3c4d5e6f            # state, outputs, reviews, history
    trust release list --state submitted,under_review
    trust release download rel-1a2b3c4d5e6f --to releases/
    trust audit export --out transparency/           # transparency.json, usage.csv, releases.csv
"""

from __future__ import annotations

import argparse
import builtins
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trust.cli.common import trust_for
from trust.errors import ConfigurationError


class _Remote:
    """The release commands over HTTP, as the token's user."""

    def __init__(self, url: str) -> None:
        from trust.client import Client

        self.client = Client(url, progress=False)

    def status(self, request_id: str) -> Any:
        return self.client.release(request_id)

    def list(self, project: str | None, states: list[str] | None) -> list[Any]:
        return self.client.releases(project=project, state=",".join(states) if states else None)

    def download(self, request_id: str, to: Path) -> Path:
        return self.client.download_release(request_id, to)

    def comments(self, request_id: str) -> builtins.list[Any]:
        return self.client.release_comments(request_id)

    def comment(self, request_id: str, body: str, **where: Any) -> Any:
        return self.client.comment_release(request_id, body, **where)

    def diff(self, request_id: str, since: int | None) -> dict[str, Any]:
        return self.client.release_diff(request_id, since)

    def replace(self, request_id: str, old: str, new: str) -> Any:
        return self.client.replace_output(request_id, old, new)


class _Local:
    """The release commands in-process, over the trust at ``--home``, as ``--user``."""

    def __init__(self, args: argparse.Namespace) -> None:
        if not args.user:
            raise ConfigurationError(
                "Say whose view to show: --user NAME (or set TRUST_URL and TRUST_TOKEN to ask "
                "a trust server as yourself)."
            )
        self.trust, self.user = trust_for(args), args.user

    def status(self, request_id: str) -> Any:
        return self.trust.airlock.get(self.user, request_id)

    def list(self, project: str | None, states: list[str] | None) -> list[Any]:
        from trust.outputs.release import ReleaseState

        wanted = [ReleaseState(s) for s in states] if states else None
        return self.trust.airlock.list(self.user, project=project, states=wanted)

    def download(self, request_id: str, to: Path) -> Path:
        import shutil
        import zipfile

        archive = self.trust.airlock.archive(self.user, request_id)
        to.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as z:
            z.extractall(to)
        shutil.copy2(archive, to / request_id / archive.name)
        return to / request_id

    def comments(self, request_id: str) -> builtins.list[Any]:
        return self.trust.airlock.comments(self.user, request_id)

    def comment(self, request_id: str, body: str, **where: Any) -> Any:
        return self.trust.airlock.comment(self.user, request_id, body, **where)

    def diff(self, request_id: str, since: int | None) -> dict[str, Any]:
        return self.trust.airlock.diff(self.user, request_id, since=since).to_json()

    def replace(self, request_id: str, old: str, new: str) -> Any:
        return self.trust.airlock.replace(self.user, request_id, old, new)


def _backend(args: argparse.Namespace) -> _Remote | _Local:
    url = args.url or os.environ.get("TRUST_URL")
    return _Remote(url) if url else _Local(args)


def _states(text: str | None) -> list[str] | None:
    from trust.errors import TrustError
    from trust.outputs.release import ReleaseState

    if not text:
        return None
    states = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in states if s not in {x.value for x in ReleaseState}]
    if unknown:
        raise TrustError(
            f"Unknown state(s) {', '.join(unknown)}; states are {', '.join(s.value for s in ReleaseState)}."
        )
    return states


def cmd_release_status(args: argparse.Namespace) -> int:
    request = _backend(args).status(args.request)
    if args.json:
        import json

        print(json.dumps(request.to_json(), indent=1))
    else:
        print(request)
    return 0


def cmd_release_list(args: argparse.Namespace) -> int:
    from trust.outputs.release_text import meaning
    from trust.outputs.render import render_text

    requests = _backend(args).list(args.project, _states(args.state))
    rows = [
        (r.id, r.state.value, r.project, r.author, len(r.outputs), r.updated[:19].replace("T", " "), meaning(r))
        for r in requests
    ]
    print(render_text(["request", "state", "project", "author", "outputs", "changed", "meaning"], rows, limit=10_000))
    return 0


def cmd_release_download(args: argparse.Namespace) -> int:
    folder = _backend(args).download(args.request, Path(args.to))
    print(f"{folder} (every file checked against manifest.json)")
    return 0


def cmd_release_comments(args: argparse.Namespace) -> int:
    found = _backend(args).comments(args.request)
    firsts = [c for c in found if not c.parent]
    for first in firsts:  # each thread: its first comment, then the replies, indented
        for c in [first, *[r for r in found if r.parent == first.id]]:
            where = " ".join(x for x in (c.output or "", c.cell or "") if x) or "request"
            note = " (checkers only)" if c.audience == "checkers" else ""
            indent = "    " if c.parent else ""
            print(f"{indent}{c.id} {c.created[:19].replace('T', ' ')} {c.author} on {where}{note}: {c.body}")
    if not found:
        print(f"No comments on {args.request}.")
    return 0


def cmd_release_comment(args: argparse.Namespace) -> int:
    made = _backend(args).comment(
        args.request,
        args.text,
        output=args.output,
        cell=args.cell,
        reply_to=args.reply_to,
        checkers_only=args.checkers_only,
    )
    print(f"{made.id} added to {args.request}" + (f" (a reply to {made.parent})" if made.parent else ""))
    return 0


def cmd_release_diff(args: argparse.Namespace) -> int:
    diff = _backend(args).diff(args.request, args.since)
    if args.json:
        import json

        print(json.dumps(diff, indent=1))
        return 0
    print(f"{args.request}: round {diff['before']} -> round {diff['after']}")
    if diff["justification_changed"]:
        print(f"  justification was: {diff['justification_before']}")
        print(f"  justification now: {diff['justification_after']}")
    for o in diff["outputs"]:
        head = f"  {o['kind']} {o['output']}" + (f" (replaces {o['replaces']})" if o["replaces"] else "")
        print(head)
        for c in o["cells"]:
            print(f"    {c['row']} {c['column']}: {c['before'] or '(no row)'} -> {c['after'] or '(no row)'}")
        if o["reasons_before"] != o["reasons_after"]:
            print(f"    cell reasons: {o['reasons_before']} -> {o['reasons_after']}")
    if not diff["outputs"] and not diff["justification_changed"]:
        print("  nothing changed")
    return 0


def cmd_release_replace(args: argparse.Namespace) -> int:
    request = _backend(args).replace(args.request, args.output, args.by)
    print(f"{args.by} replaces {args.output} in {request.id}; resubmit it: client.submit_release('{request.id}')")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    from trust.audit.export import FILES

    report = trust_for(args).export_transparency_report(Path(args.out))
    for name in FILES:
        print(Path(args.out) / name)
    if not report.chain_intact:
        print(f"warning: the audit chain is broken ({report.chain}); the report says so", file=sys.stderr)
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The subcommand group an existing command already has (``trust audit`` is made in trust.cli)."""
    for action in parser._actions:  # argparse keeps no public handle on a parser's subparsers
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="sub", required=True)


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``trust release …`` and ``trust audit export`` to ``trust``'s subparsers."""
    release = sub.add_parser("release", help="Release requests: what may leave the trust.").add_subparsers(
        dest="sub", required=True
    )

    def remote_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--url", default=None, help="a trust server (default $TRUST_URL); the token is $TRUST_TOKEN")
        p.add_argument(
            "--user",
            default=os.environ.get("TRUST_USER"),
            help="without a server: whose view, in-process over --home (default $TRUST_USER)",
        )
        return p

    st = remote_options(
        add("status", cmd_release_status, "Show a release request: state, outputs, reviews, history.", release)
    )
    st.add_argument("request")
    st.add_argument("--json", action="store_true", help="the request as JSON")
    ls = remote_options(add("list", cmd_release_list, "List the release requests you may see.", release))
    ls.add_argument("--project", default=None)
    ls.add_argument("--state", default=None, help="comma-separated states, e.g. submitted,under_review")
    dl = remote_options(
        add(
            "download",
            cmd_release_download,
            "Download a released bundle (its author only), checked against its manifest.",
            release,
        )
    )
    dl.add_argument("request")
    dl.add_argument("--to", default=".", help="folder to unpack it in (default: here)")
    cs = remote_options(add("comments", cmd_release_comments, "Show the comments you may read, by thread.", release))
    cs.add_argument("request")
    cm = remote_options(
        add("comment", cmd_release_comment, "Comment on a request, an output or a cell, or reply.", release)
    )
    cm.add_argument("request")
    cm.add_argument("text")
    cm.add_argument("--output", default=None, help="the output it is about")
    cm.add_argument("--cell", default=None, help="ROW:COLUMN of that output, e.g. 3:claimants")
    cm.add_argument("--reply-to", default=None, help="the comment it answers (joins its thread)")
    cm.add_argument("--checkers-only", action="store_true", help="a note among output checkers")
    df = remote_options(add("diff", cmd_release_diff, "What changed since a round you reviewed.", release))
    df.add_argument("request")
    df.add_argument("--since", type=int, default=None, help="the round to compare with (default: your last)")
    df.add_argument("--json", action="store_true")
    rp = remote_options(add("replace", cmd_release_replace, "Put a corrected output in a returned request.", release))
    rp.add_argument("request")
    rp.add_argument("output", help="the output to replace")
    rp.add_argument("by", help="the corrected output")

    audit = (
        _subcommands(sub.choices["audit"])
        if "audit" in sub.choices
        else sub.add_parser("audit", help="The audit trail.").add_subparsers(dest="sub", required=True)
    )
    ex = add(
        "export",
        cmd_audit_export,
        "Write the transparency report: what data was used, by which project, for which purpose, and what "
        "was released (JSON and CSV).",
        audit,
    )
    ex.add_argument("--out", default="transparency", help="folder to write into (default ./transparency)")
