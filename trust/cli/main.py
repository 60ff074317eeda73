"""The ``trust`` command and its own subcommands. Every error is one clear line on stderr; no traceback
reaches a user. The policy owners', release and server commands register themselves from their modules."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trust.cli.audit import register as register_audit
from trust.cli.catalog import register as register_catalog
from trust.cli.common import trust_for
from trust.cli.policy import register as register_policy
from trust.cli.projects import register as register_projects
from trust.cli.release import register as register_release
from trust.cli.server import register as register_server_commands
from trust.config import REPO_ROOT, trust_home
from trust.errors import PolicyDenied, QueryCancelled, TrustError

log = logging.getLogger("trust")
DEFAULT_DATA_DIR = REPO_ROOT / ".trust-demo" / "data"


def cmd_demo(args: argparse.Namespace) -> int:
    from trust.demo.walkthrough import run_demo

    home = Path(args.home) if args.home else REPO_ROOT / ".trust-demo" / "home"
    run_demo(home, Path(args.data_dir), scale=args.scale, seed=args.seed)
    return 0


def cmd_serve_departments(args: argparse.Namespace) -> int:
    import signal
    import threading

    from trust.demo.environment import DEFAULT_SEED, prepare_home
    from trust.demo.generate import ensure_generated
    from trust.demo.servers import DepartmentServers

    data_dir = Path(args.data_dir)
    ensure_generated(data_dir, scale=args.scale, seed=args.seed or DEFAULT_SEED)
    home = trust_home() if not args.home else Path(args.home)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with DepartmentServers(data_dir) as servers:
        # Never replaces an administrator's trust.toml, never seeds accounts outside a demo home.
        for note in prepare_home(home, servers.endpoints, seed_accounts=args.seed_demo_accounts).notes:
            print(note, flush=True)
        e = servers.endpoints
        print(
            f"ready DWP={e.dwp_url} DfE={e.dfe_url} DESNZ={e.desnz_url} "
            f"HMRC=s3://{e.hmrc_bucket}@{e.hmrc_s3_endpoint} (trust home {home})",
            flush=True,
        )
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from trust.client.progress import progress_for
    from trust.outputs.render import result_tables, write_csv

    progress = progress_for(None)  # stages and time on stderr, in a terminal; Ctrl-C cancels
    try:
        out = trust_for(args).session(args.user, args.project).sql(args.sql, on_progress=progress.update)
    finally:
        progress.close()
    if args.format == "csv":
        write_csv(out.columns, out.rows(), sys.stdout)  # numbers rounded as in the table views, [c]
    elif args.format == "json":
        print(
            json.dumps(
                {
                    "output": out.id,
                    "columns": out.columns,
                    "rows": out.rows(),
                    "disclosure": out.report.to_json(figures=False),
                },
                default=str,
                indent=1,
            )
        )
    else:
        console = _console()
        for table in result_tables(out.columns, out.rows()):  # every row, streamed: `| head` may stop it early
            console.print(table)
        print(out.report.summary())
        print(f"output {out.id}")
    return 0


def _console() -> Any:
    """A ``rich`` console on stdout: the terminal's width and colours, or when piped, plain text as wide
    as the table (never wrapped at 80 columns)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1 itself; main() stops as for any other write
            raise BrokenPipeError

    tty = sys.stdout.isatty()
    return _Console(file=sys.stdout, width=None if tty else 100_000, highlight=False, markup=False, emoji=False)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    trust = trust_for(args)
    ok, summary = trust.audit.verify()
    print(("ok: " if ok else "BROKEN: ") + summary)
    found, checked = trust.integrity.verify()
    if found:
        print(f"BROKEN: the state disagrees with the audit trail, first at {found[0]}")
        for more in found[1:10]:
            print(f"  also {more}")
        if len(found) > 10:
            print(f"  and {len(found) - 10} more")
    else:
        print(f"ok: {checked} stored outputs, release requests and dataset versions match their audit events")
    return 0 if ok and not found else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trust", description="The Labour Market Data Trust.")
    p.add_argument("--home", help="trust state folder (default: $TRUST_HOME or ~/.trust)")
    sub = p.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    demo = add("demo", cmd_demo, "Start four department servers and walk through governed queries.")
    demo.add_argument("--scale", type=float, default=1.0, help="data size (1.0 = demo size)")
    demo.add_argument("--seed", type=int, default=20261121)
    demo.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))

    deps = sub.add_parser("departments", help="The departments' own data servers.").add_subparsers(
        dest="sub", required=True
    )
    serve = add("serve", cmd_serve_departments, "Serve the departments' data until interrupted.", deps)
    serve.add_argument("--scale", type=float, default=1.0)
    serve.add_argument("--seed", type=int, default=None)
    serve.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    serve.add_argument(
        "--seed-demo-accounts",
        action="store_true",
        help="add the demo's accounts (ana, bob, carol, dev, olive) even though the home is not a demo home",
    )

    q = add("query", cmd_query, "Run one governed query and print the protected result.")
    q.add_argument("--user", required=True)
    q.add_argument("--project", required=True)
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("sql")

    register_catalog(sub, add)

    audit = sub.add_parser("audit", help="The audit trail.").add_subparsers(dest="sub", required=True)
    add(
        "verify",
        cmd_audit_verify,
        "Check the audit hash chain, and the stored state against it; name the first of each that is broken.",
        audit,
    )

    register_server_commands(sub, add)
    register_policy(sub, add)
    register_release(sub, add)
    register_projects(sub, add)
    register_audit(sub, add)
    return p


def _log_to_file() -> None:
    """Internal errors go to the trust's own log file, never to the user's terminal."""
    logging.raiseExceptions = False
    try:
        home = trust_home()
        home.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(home / "trust.log")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _log_to_file()
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that has gone (`trust query ... | head`) shows here, not at exit
        return code
    except QueryCancelled as exc:  # Ctrl-C stopped a query: one line, the shell's code for an interrupt
        print(exc.message, file=sys.stderr)
        return 130
    except TrustError as exc:
        for line in _error_lines(exc):
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        if _stdout_gone():  # like other Unix tools: stop quietly when the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            return 128 + 13  # what a shell reports for a writer stopped by SIGPIPE
        return _internal_error()
    except Exception:
        return _internal_error()


def _error_lines(exc: TrustError) -> list[str]:
    """What a user reads about a refusal: every policy denial on its own line, each naming its rule."""
    if isinstance(exc, PolicyDenied) and exc.denials:
        return [f"Denied by policy [{d.get('rule')}]: {d.get('message')}" for d in exc.denials]
    return [str(exc)]


def _stdout_gone() -> bool:
    """Whether the reader of standard output has closed it (its pipe reports an error to poll)."""
    try:
        import select

        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or no real stdout: it was the likeliest
        return True


def _internal_error() -> int:
    """Called while handling an unexpected exception: logged, one line for the user, no traceback."""
    if os.environ.get("TRUST_DEBUG"):
        raise  # the exception the caller is handling
    log.exception("internal error")
    print(
        "error: the trust hit an internal error; it has been logged. Set TRUST_DEBUG=1 to see details.",
        file=sys.stderr,
    )
    return 3
