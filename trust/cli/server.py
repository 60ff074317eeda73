"""The server's commands: ``trust serve``, ``trust users add|list|disable``, ``trust tokens issue|list|revoke``.

``trust.cli.main.build_parser`` calls ``register(sub, add)`` with its subparsers and its ``add`` helper.
``trust tokens issue USER`` prints the token alone on stdout (``TOKEN=$(trust tokens issue ana)``)
and what to do with it on stderr; the trust keeps only its hash.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trust.cli.common import trust_for
from trust.errors import TrustError


def cmd_serve(args: argparse.Namespace) -> int:
    from trust.server.serve import serve

    serve(Path(args.home) if args.home else None, host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    user = trust_for(args).access.add_user(
        args.name, tuple(r.strip() for r in args.roles.split(",") if r.strip()), args.organisation, email=args.email
    )
    print(f"added {user.name} ({', '.join(user.roles)}, {user.organisation})")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from trust.outputs.render import render_text

    trust = trust_for(args)
    projects = trust.access.projects()
    rows = [
        (
            u.name,
            ",".join(u.roles),
            u.organisation,
            "disabled" if u.disabled else "active",
            ",".join(p for p, spec in projects.items() if u.name in spec.get("members", ())),
        )
        for u in trust.access.users()
    ]
    print(render_text(["user", "roles", "organisation", "status", "projects"], rows, limit=10_000))
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    trust_for(args).access.disable_user(args.name)
    print(f"disabled {args.name}; their tokens are revoked")
    return 0


def cmd_tokens_issue(args: argparse.Namespace) -> int:
    trust = trust_for(args)
    trust.access.user(args.user)  # a disabled user gets no token
    never = args.expires_days == "never"
    token = trust.access.issue_token(
        args.user, label=args.label, expires_days=None if never else args.expires_days, never_expires=never
    )
    print(token.secret)
    expiry = f", expires {token.expires}" if token.expires else ", never expires"
    print(
        f"issued {token.id} for {token.user}{expiry}. It is shown once: store it now "
        f"(e.g. TRUST_TOKEN in the analyst's environment). Revoke with `trust tokens revoke {token.id}`.",
        file=sys.stderr,
    )
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from trust.outputs.render import render_text
    from trust.service.access import now

    rows = [
        (
            t.id,
            t.user,
            t.label,
            t.created,
            t.expires or "never",
            "revoked" if t.revoked else ("active" if t.active(now()) else "expired"),
        )
        for t in trust_for(args).access.tokens(args.user)
    ]
    print(render_text(["token", "user", "label", "created", "expires", "status"], rows, limit=10_000))
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    trust = trust_for(args)
    if bool(args.token) == bool(args.user):
        raise TrustError("Give a token id (tok-…) or a token, or --user NAME to revoke all of a user's tokens.")
    targets = [args.token] if args.token else [t.id for t in trust.access.tokens(args.user) if t.revoked is None]
    for target in targets:
        token = trust.access.revoke_token(target)
        print(f"revoked {token.id} ({token.user})")
    if not targets:
        print(f"{args.user} holds no active tokens")
    return 0


def _days(text: str) -> float | str:
    """``--expires-days``: a number of days, or 'never' (an explicit choice: the default is an expiry)."""
    if text.strip().lower() == "never":
        return "never"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days or 'never', got {text!r}") from None


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the server's commands to ``trust``'s subparsers."""
    from trust.server import DEFAULT_PORT

    serve = add("serve", cmd_serve, "Run the trust's HTTP API until interrupted (prints 'ready URL').")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    serve.add_argument("--workers", type=int, default=8, help="queries run at once; more wait in a queue (default 8)")

    users = sub.add_parser("users", help="Manage users.").add_subparsers(dest="sub", required=True)
    ua = add("add", cmd_users_add, "Add or update (and re-enable) a user.", users)
    ua.add_argument("name")
    ua.add_argument("--roles", default="analyst", help="comma-separated: analyst,output_checker,policy_owner,admin")
    ua.add_argument("--organisation", required=True)
    ua.add_argument("--email", help="where notifications of release requests go (kept as it is when not given)")
    add("list", cmd_users_list, "List users, their roles and projects.", users)
    ud = add("disable", cmd_users_disable, "Disable a user and revoke their tokens.", users)
    ud.add_argument("name")

    tokens = sub.add_parser("tokens", help="Bearer tokens for the API.").add_subparsers(dest="sub", required=True)
    ti = add("issue", cmd_tokens_issue, "Issue a token for USER and print it (once).", tokens)
    ti.add_argument("user")
    ti.add_argument("--label", default="", help="a note, e.g. the notebook or machine it is for")
    ti.add_argument(
        "--expires-days",
        type=_days,
        default=None,
        help="days until it stops working, or 'never' (default: the token_lifetime_days setting, 90)",
    )
    tl = add("list", cmd_tokens_list, "List tokens (ids, never the tokens themselves).", tokens)
    tl.add_argument("user", nargs="?")
    tr = add("revoke", cmd_tokens_revoke, "Revoke a token by id (tok-…) or by the token, or all of --user's.", tokens)
    tr.add_argument("token", nargs="?")
    tr.add_argument("--user", default=None)
