"""``trust policy test | explain | diff | check``: the policy owners' tools.

Registered into the main parser by ``trust.cli.main.build_parser`` with ``register(sub, add)``.
Exit codes: 0 when everything passes (or the query is allowed, or no decision would change), 1 when
a test fails or coverage is below ``--min-coverage``, the check finds an error, the query is denied,
or ``diff`` finds decisions that would change; 2 for a usage or configuration error (from trust.cli).
"""

from __future__ import annotations

import argparse
import dataclasses
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

    directory = _policies_dir(args)
    results = run_tests(directory, pattern=args.run)
    print(report(results, verbose=args.verbose))
    status = 0 if results and all(r.status in {"pass", "skip"} for r in results) else 1
    if (args.coverage or args.min_coverage is not None) and not any(r.problems for r in results):
        status = max(status, _coverage(directory, [r.test.entrypoint for r in results if not r.test.skipped], args))
    return status


def _coverage(directory: Path, entrypoints: list[str], args: argparse.Namespace) -> int:
    from trust.policy.coverage import TraceUnavailable, coverage

    try:
        measured = coverage(directory, entrypoints=entrypoints)
    except TraceUnavailable as exc:
        print(f"coverage unavailable: {exc}; run `trust policy check`", file=sys.stderr)
        return 1 if args.min_coverage is not None else 0
    print()
    print(measured.render(verbose=args.verbose))
    if args.min_coverage is not None and measured.percent < args.min_coverage:
        print(
            f"coverage {measured.percent}% is below --min-coverage {args.min_coverage:g}%: add tests for the lines not covered"
        )
        return 1
    return 0


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
    from trust.policy.explain import explain_document, rule_locations

    trust = trust_for(args)
    if args.input:
        document: Any = json.loads(Path(args.input).read_text() if args.input != "-" else sys.stdin.read())
        result = explain_document(trust.policy, document)
    else:
        if not (args.user and args.project and args.sql):
            raise TrustError("trust policy explain needs --user, --project and the SQL, or --input FILE.")
        result = trust.queries.explain(args.user, args.project, args.sql, offline=args.offline)
    if result.decision is not None:
        directory = Path(_config(args).policies_dir)
        result = dataclasses.replace(result, locations=rule_locations(directory, result.decision.fired))
    print(json.dumps(result.to_json(), indent=2) if args.json else result.render())
    return 0 if result.allowed else 1


def cmd_policy_diff(args: argparse.Namespace) -> int:
    from trust.audit.search import audit_query
    from trust.policy.diff import REPLAYED_KINDS, diff_decisions
    from trust.policy.embedded import EmbeddedPolicy

    against = Path(args.against)
    if not against.is_dir():
        raise TrustError(
            f"--against {against}: no such folder; give the candidate policy folder (a copy of policies/)."
        )
    trust = trust_for(args)
    current = EmbeddedPolicy(Path(args.dir)) if args.dir else trust.policy
    candidate = EmbeddedPolicy(against)  # a candidate that does not compile stops here, with the reason
    events = trust.audit.search(audit_query(kinds=",".join(REPLAYED_KINDS), since=args.since, limit=args.limit))
    result = diff_decisions(events, current=current, candidate=candidate)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.render())
    return 1 if result.changes else 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``policy test|explain|diff|check`` to the main parser's subcommands."""
    policy = sub.add_parser("policy", help="Policy owners' tools: test, explain and check the Rego policy.")
    commands = policy.add_subparsers(dest="sub", required=True)

    t = add(
        "test", cmd_policy_test, "Run the test_ rules in *_test.rego files and report each (like opa test).", commands
    )
    t.add_argument("--dir", help="policy folder (default: policies_dir from trust.toml)")
    t.add_argument("--run", metavar="REGEX", help="only tests whose name (data.pkg.test_x) matches")
    t.add_argument("-v", "--verbose", action="store_true", help="list every test, not only failures")
    t.add_argument(
        "--coverage", action="store_true", help="also report which lines of the policy modules the tests evaluate"
    )
    t.add_argument(
        "--min-coverage",
        type=float,
        metavar="N",
        help="with coverage: exit 1 when the total is below N percent (implies --coverage)",
    )

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

    d = add(
        "diff",
        cmd_policy_diff,
        "Replay recently audited policy inputs under a candidate policy folder; list every decision that would change.",
        commands,
    )
    d.add_argument("--against", required=True, metavar="DIR", help="the candidate policy folder")
    d.add_argument("--dir", help="the policy to compare with (default: the trust's own policy)")
    d.add_argument("--since", help="only decisions from this ISO date or time (UTC unless it says), e.g. 2026-12-01")
    d.add_argument("--limit", type=int, default=1000, help="replay at most the newest N decisions (default 1000)")
    d.add_argument("--json", action="store_true", help="print the changes as JSON")

    c = add(
        "check",
        cmd_policy_check,
        "Validate the Rego modules and policy data; report problems as file:line:column.",
        commands,
    )
    c.add_argument("--dir", help="policy folder (default: policies_dir from trust.toml)")
    c.add_argument("--catalog", help="catalogue folder (default: catalog_dir from trust.toml)")
