"""``trust policy test | explain | check``: the policy owners' tools.

Registered into the main parser by ``trust.cli.main.build_parser`` with ``register(sub, add)``.
Exit codes: 0 when everything passes (or the query is allowed), 1 when a test fails, the check
finds an error, or the query is denied; 2 for a usage or configuration error (from trust.cli).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trust.cli.common import trust_for
from trust.config import Config
from trust.errors import TrustError


def _config(args: argparse.Namespace) -> Config:
    return Config.load(Path(args.home) if getattr(args, "home", None) else None)


def _policies_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir else Path(_config(args).policies_dir)


def cmd_policy_test(args: argparse.Namespace) -> int:
    from trust.policy.testing import report, run_tests

    results = run_tests(_policies_dir(args), pattern=args.run)
    print(report(results, verbose=args.verbose))
    return 0 if results and all(r.status in {"pass", "skip"} for r in results) else 1


def cmd_policy_check(args: argparse.Namespace) -> int:
    from trust.catalog import load_catalog
    from trust.policy.check import check_policies

    directory = _policies_dir(args)
    catalog = load_catalog(Path(args.catalog) if args.catalog else Path(_config(args).catalog_dir))
    problems = check_policies(directory.resolve(), catalog)
    for p in problems:
        print(p)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    print(f"{directory}: {errors} error(s), {warnings} warning(s)" if problems else f"{directory}: ok")
    return 1 if errors else 0


def cmd_policy_explain(args: argparse.Namespace) -> int:
    from trust.policy.explain import explain_document

    trust = trust_for(args)
    if args.input:
        document: Any = json.loads(Path(args.input).read_text() if args.input != "-" else sys.stdin.read())
        result = explain_document(trust.policy, document)
    else:
        if not (args.user and args.project and args.sql):
            raise TrustError("trust policy explain needs --user, --project and the SQL, or --input FILE.")
        result = trust.queries.explain(args.user, args.project, args.sql, offline=args.offline)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.render())
    return 0 if result.allowed else 1


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``policy test|explain|check`` to the main parser's subcommands."""
    policy = sub.add_parser("policy", help="Policy owners' tools: test, explain and check the Rego policy.")
    commands = policy.add_subparsers(dest="sub", required=True)

    t = add(
        "test", cmd_policy_test, "Run the test_ rules in *_test.rego files and report each (like opa test).", commands
    )
    t.add_argument("--dir", help="policy folder (default: policies_dir from trust.toml)")
    t.add_argument("--run", metavar="REGEX", help="only tests whose name (data.pkg.test_x) matches")
    t.add_argument("-v", "--verbose", action="store_true", help="list every test, not only failures")

    e = add(
        "explain",
        cmd_policy_explain,
        "Show the input document, the decision, each rule that fired and the obligations for one query.",
        commands,
    )
    e.add_argument("--user")
    e.add_argument("--project")
    e.add_argument("--offline", action="store_true", help="use the catalogue registrations; do not contact departments")
    e.add_argument("--input", metavar="FILE", help="explain a ready-made input document (JSON; - for stdin)")
    e.add_argument("--json", action="store_true", help="print the explanation as JSON")
    e.add_argument("sql", nargs="?")

    c = add(
        "check",
        cmd_policy_check,
        "Validate the Rego modules and policy data; report problems as file:line:column.",
        commands,
    )
    c.add_argument("--dir", help="policy folder (default: policies_dir from trust.toml)")
    c.add_argument("--catalog", help="catalogue folder (default: catalog_dir from trust.toml)")
