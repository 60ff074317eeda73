"""``trust apply``, ``trust applications …`` and ``trust register``: data-sharing applications from a terminal.

    trust apply application.yaml --user ana              # a draft, with what would block approval and why
    trust applications submit app-1a2b3c4d5e6f --user ana
    trust applications decide app-1a2b3c4d5e6f approve --user dora --conditions '{"columns": {…}}'
    trust register --format csv                          # the public register of agreements

With ``TRUST_URL`` (or ``--url``) and ``TRUST_TOKEN`` they ask a trust server as the token's user;
otherwise they open the trust at ``--home`` in-process as ``--user``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trust.cli.common import trust_for
from trust.errors import ConfigurationError, TrustError


class _Backend:
    """The same calls over HTTP (a client) or in-process (the service), answering the API's JSON."""

    def __init__(self, args: argparse.Namespace) -> None:
        url = getattr(args, "url", None) or os.environ.get("TRUST_URL")
        self.client: Any = None
        if url:
            from trust.client import Client

            self.client = Client(url, progress=False)
            return
        if not getattr(args, "user", None):
            raise ConfigurationError("Say who you are: --user NAME (or set TRUST_URL and TRUST_TOKEN to use a server).")
        self.trust, self.user = trust_for(args), args.user

    def apply(self, spec: dict[str, Any]) -> dict[str, Any]:
        if self.client:
            return dict(self.client.apply(spec))
        return self.trust.agreements.draft(self.user, spec).to_json()

    def get(self, application_id: str) -> dict[str, Any]:
        if self.client:
            return dict(self.client.application(application_id))
        return self.trust.agreements.get(self.user, application_id).to_json()

    def listing(self, state: str | None) -> list[dict[str, Any]]:
        if self.client:
            return list(self.client.applications(state))
        states = tuple(s.strip() for s in state.split(",")) if state else ()
        return [a.to_json() for a in self.trust.agreements.list(self.user, states=states)]

    def submit(self, application_id: str) -> dict[str, Any]:
        if self.client:
            return dict(self.client.submit_application(application_id))
        return self.trust.agreements.submit(self.user, application_id).to_json()

    def withdraw(self, application_id: str) -> dict[str, Any]:
        if self.client:
            return dict(self.client.withdraw_application(application_id))
        return self.trust.agreements.withdraw(self.user, application_id).to_json()

    def decide(self, application_id: str, decision: str, conditions: dict[str, Any], note: str) -> dict[str, Any]:
        if self.client:
            return dict(self.client.decide_application(application_id, decision, conditions=conditions, note=note))
        return self.trust.agreements.decide(
            self.user, application_id, decision, conditions=conditions, note=note
        ).to_json()


def _read(path: str) -> dict[str, Any]:
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TrustError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TrustError(f"{path} is not YAML or JSON; see docs/projects.md for an application's fields.") from None
    if not isinstance(value, dict):
        raise TrustError(f"{path} must hold one application (a mapping of its fields); see docs/projects.md.")
    return value


def _show(app: dict[str, Any]) -> None:
    a = app["application"]
    print(
        f"{app['id']}  {app['state']}  project {a['project']}{' (amendment)' if a.get('amends') else ''}: {a['title']}"
    )
    print(
        f"  purpose {a['purpose']}; gateway {a['legal_gateway']}; until {a['expires']}; members {', '.join(a['members'])}"
    )
    for dataset, columns in a["datasets"].items():
        print(f"  {dataset}: {', '.join(columns)}")
    for b in app["assessment"]["blockers"]:
        print(f"  BLOCKS APPROVAL: {b['message']}")
    for w in app["assessment"]["warnings"]:
        print(f"  note: {w['message']}")
    if app["state"] == "submitted":
        waiting = [f"{d} ({n} more)" for d, n in app["waiting_for"].items() if n]
        print(f"  waiting for: {', '.join(waiting) or 'nobody'}")
    for d in app["decisions"]:
        extra = f" with conditions {json.dumps(d['conditions'])}" if d["conditions"] else ""
        print(f"  {d['department']}: {d['decision']} by {d['approver']}{extra}{': ' + d['note'] if d['note'] else ''}")
    if app.get("agreement_version"):
        print(f"  agreement version {app['agreement_version']} in force")


def cmd_apply(args: argparse.Namespace) -> int:
    spec = _read(args.file)
    if args.amends:
        spec = {**spec, "project": args.amends, "amends": True}
    backend = _Backend(args)
    app = backend.apply(spec)
    _show(app)
    if args.submit:
        if app["assessment"]["blockers"]:
            print("Not submitted: change the application so that nothing blocks it.", file=sys.stderr)
            return 1
        _show(backend.submit(app["id"]))
    return 0


def cmd_applications_list(args: argparse.Namespace) -> int:
    from trust.outputs.render import render_text

    rows = [
        (
            a["id"],
            a["state"],
            a["application"]["project"],
            a["applicant"],
            ", ".join(a["departments"]),
            a["updated"][:16],
        )
        for a in _Backend(args).listing(args.state)
    ]
    print(render_text(["application", "state", "project", "applicant", "departments", "changed"], rows, limit=10_000))
    return 0


def cmd_applications_show(args: argparse.Namespace) -> int:
    app = _Backend(args).get(args.application)
    print(json.dumps(app, indent=1)) if args.json else _show(app)
    return 0


def cmd_applications_submit(args: argparse.Namespace) -> int:
    _show(_Backend(args).submit(args.application))
    return 0


def cmd_applications_withdraw(args: argparse.Namespace) -> int:
    _show(_Backend(args).withdraw(args.application))
    return 0


def cmd_applications_decide(args: argparse.Namespace) -> int:
    conditions: dict[str, Any] = {}
    if args.conditions:
        text = Path(args.conditions).read_text() if Path(args.conditions).is_file() else args.conditions
        try:
            conditions = json.loads(text)
        except json.JSONDecodeError:
            raise TrustError(
                '--conditions is JSON (or a file of it): {"columns": {dataset: [columns]}, "row_filters": '
                '[{"dataset": …, "expression": …}], "disclosure": {"min_units": 20}}.'
            ) from None
    _show(_Backend(args).decide(args.application, args.decision, conditions, args.note or ""))
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from trust.service.agreements import register_csv

    entries = trust_for(args).agreements.register()
    if args.format == "json":
        print(json.dumps({"agreements": [e.to_json() for e in entries]}, indent=1))
    elif args.format == "csv":
        sys.stdout.write(register_csv(entries))
    else:
        from trust.outputs.render import render_text

        rows = [(e.project, e.title, ", ".join(e.departments), ", ".join(e.shared_with), e.purpose, e.legal_gateway,
                 e.expires) for e in entries]  # fmt: skip
        print(
            render_text(
                ["project", "title", "shared by", "shared with", "purpose", "gateway", "until"], rows, limit=10_000
            )
        )
    return 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    def who(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--url", default=None, help="a trust server (default $TRUST_URL); the token is $TRUST_TOKEN")
        p.add_argument("--user", default=os.environ.get("TRUST_USER"), help="without a server: who you are")
        return p

    ap = who(add("apply", cmd_apply, "Apply for a project (or to amend one) from a YAML or JSON file."))
    ap.add_argument("file", help="the application: docs/projects.md lists its fields")
    ap.add_argument("--amends", default=None, metavar="PROJECT", help="apply to change this project")
    ap.add_argument("--submit", action="store_true", help="submit it at once if nothing blocks it")

    apps = sub.add_parser("applications", help="Data-sharing applications.").add_subparsers(dest="sub", required=True)
    ls = who(add("list", cmd_applications_list, "The applications you may see.", apps))
    ls.add_argument("--state", default=None, help="comma-separated: draft,submitted,approved,rejected,withdrawn")
    sh = who(add("show", cmd_applications_show, "One application, its guidance and decisions.", apps))
    sh.add_argument("application")
    sh.add_argument("--json", action="store_true")
    for name, fn, text in (
        ("submit", cmd_applications_submit, "Send your draft to the data owners."),
        ("withdraw", cmd_applications_withdraw, "Withdraw your application."),
    ):
        who(add(name, fn, text, apps)).add_argument("application")
    de = who(add("decide", cmd_applications_decide, "A data owner's decision on their department's part.", apps))
    de.add_argument("application")
    de.add_argument("decision", choices=("approve", "reject"))
    de.add_argument("--conditions", default=None, help="JSON, or a file of it: columns, row_filters, disclosure")
    de.add_argument("--note", default=None, help="why (needed to reject)")

    rg = add("register", cmd_register, "The public register of agreements in force (no personal data).")
    rg.add_argument("--format", choices=("table", "csv", "json"), default="table")
