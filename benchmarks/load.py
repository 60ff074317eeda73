"""Load test: 20 analysts at once against ``trust serve``, a mix of small and large queries.

Starts the departments and the trust server as real processes (as the end-to-end tests do), adds
the analysts (each with their own token, all members of the demo projects in a copy of the policy
data), then has every analyst run queries back to back through ``trust.Client``; before that, the
same analysts run the same queries at the same concurrency on plain DuckDB (a sandbox each, over
the same department servers). Reports both throughputs and their ratio, latency percentiles per
kind of query, and every failure; writes
``benchmarks/results/load.md``.

    .venv/bin/python benchmarks/load.py                    # 20 analysts x 8 queries, demo scale
    .venv/bin/python benchmarks/load.py --analysts 5 --queries 4 --scale 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trust  # noqa: E402
from trust.config import REPO_ROOT  # noqa: E402
from trust.server.launch import launch_departments, launch_trust  # noqa: E402
from trust.service import Trust  # noqa: E402

PROJECT = "demo-employment-support"
SMALL = {
    "claims by region": "SELECT region, count(*) AS claimants, avg(award_amount) AS mean_award FROM dwp.uc_claims GROUP BY region",
    "claims by age and sex": "SELECT age_band, sex, count(*) AS claimants FROM dwp.uc_claims GROUP BY age_band, sex",
    "learners by level": "SELECT qualification_level, achieved, count(DISTINCT person_id) AS learners FROM dfe.learners GROUP BY 1, 2",
    "businesses by sector": "SELECT sic_section, count(*) AS businesses, sum(employee_count) AS employees FROM desnz.businesses GROUP BY sic_section",
}
LARGE = {
    "UC x PAYE by region": """SELECT u.region, count(DISTINCT u.person_id) AS claimants_in_work, sum(p.gross_pay) AS pay
        FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON u.person_id = p.person_id
        WHERE p.tax_year = '2024-25' GROUP BY u.region""",
    "UC x DfE x PAYE by level": """SELECT l.qualification_level, count(DISTINCT u.person_id) AS claimants, avg(p.gross_pay) AS pay
        FROM dwp.uc_claims u JOIN dfe.learners l ON u.person_id = l.person_id
        JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY l.qualification_level""",
    "PAYE by month": "SELECT tax_year, tax_month, count(DISTINCT person_id) AS people, sum(gross_pay) AS pay FROM hmrc.paye_employments GROUP BY 1, 2",
}
LARGE_SHARE = 0.35


@dataclass(frozen=True)
class Sample:
    analyst: str
    kind: str  # small or large
    name: str
    started: float
    seconds: float
    error: str | None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def prepare(home: Path, analysts: int) -> Path:
    """A copy of the policies with the load-test analysts as members of the demo project."""
    policies = home / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    projects_file = policies / "data" / "projects.json"
    projects = json.loads(projects_file.read_text())
    names = [f"analyst{i:02d}" for i in range(1, analysts + 1)]
    projects[PROJECT]["members"] = sorted(set(projects[PROJECT].get("members", [])) | set(names))
    projects_file.write_text(json.dumps(projects, indent=2))
    return policies


def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="trust-load-"))
    home = workdir / "home"
    policies = prepare(workdir, args.analysts)
    env = {"TRUST_POLICIES_DIR": str(policies)}
    samples: list[Sample] = []
    lock = threading.Lock()
    with (
        launch_departments(home, Path(args.data_dir), scale=args.scale),
        launch_trust(home, workers=args.workers, env=env) as server,
    ):
        os.environ["TRUST_POLICIES_DIR"] = str(policies)  # so the admin side below sees the same members
        admin = Trust.open(home)
        names = [f"analyst{i:02d}" for i in range(1, args.analysts + 1)]
        tokens = {}
        for name in names:
            admin.access.add_user(name, ("analyst",), "DWP")
            tokens[name] = admin.access.issue_token(name, label="load test").secret
        warm = trust.Client(server.url, token=tokens[names[0]], project=PROJECT, progress=False)
        warm.sql(SMALL["claims by region"])  # the catalogue is read once, before the clock starts
        alone = {}  # each query by itself, for comparison: the rest of a latency under load is waiting
        for qname, sql in sorted({**SMALL, **LARGE}.items()):
            t0 = time.perf_counter()
            warm.sql(sql)
            alone[qname] = time.perf_counter() - t0
        plain = run_plain(admin, names, args)  # the same analysts' queries on plain DuckDB, first
        barrier = threading.Barrier(len(names))

        def analyst(name: str, seed: int) -> None:
            client = trust.Client(server.url, token=tokens[name], project=PROJECT, progress=False, timeout=120)
            barrier.wait()
            for kind, qname, sql in plan(seed, args.queries):
                t0 = time.perf_counter()
                error = None
                try:
                    out = client.sql(sql)
                    assert out.table.num_rows > 0
                except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                    error = f"{type(exc).__name__}: {exc}"
                with lock:
                    samples.append(Sample(name, kind, qname, t0, time.perf_counter() - t0, error))
            client.close()

        threads = [threading.Thread(target=analyst, args=(n, args.seed + i)) for i, n in enumerate(names)]
        wall0 = time.perf_counter()
        for t in threads:
            t.start()
        health: list[float] = []
        while any(t.is_alive() for t in threads):  # the server's responsiveness while under load
            t0 = time.perf_counter()
            warm.health()
            health.append(time.perf_counter() - t0)
            time.sleep(0.25)
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall0
    shutil.rmtree(workdir, ignore_errors=True)
    return {"samples": samples, "wall": wall, "health": health, "alone": alone, "plain": plain}


def plan(seed: int, queries: int) -> list[tuple[str, str, str]]:
    """One analyst's queries (kind, name, SQL), the same for the governed and the plain run."""
    rng = random.Random(seed)
    out = []
    for _ in range(queries):
        kind = "large" if rng.random() < LARGE_SHARE else "small"
        qname, sql = rng.choice(sorted((LARGE if kind == "large" else SMALL).items()))
        out.append((kind, qname, sql))
    return out


def run_plain(admin: Trust, names: list[str], args: argparse.Namespace) -> dict:
    """The same analysts, at the same concurrency, each query on plain DuckDB in its own sandbox (the
    trust's httpfs settings, memory limit and threads) over the same department servers: no parse,
    policy, rewrite, disclosure control or audit."""
    from trust.catalog import access_for
    from trust.engine.sandbox import open_sandbox
    from trust.service.catalogue import engine_limits

    datasets = list(admin.catalog.bound())
    access = access_for(datasets, admin.config.credentials)
    limits = engine_limits(admin.config, {d.department for d in datasets})
    views = [(d.schema_name, d.id, ", ".join(f"'{f.url}'" for f in d.files)) for d in datasets if d.files]
    samples: list[Sample] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(names))

    def analyst(name: str, seed: int) -> None:
        barrier.wait()
        for kind, qname, sql in plan(seed, args.queries):
            t0 = time.perf_counter()
            error = None
            try:
                con = open_sandbox(access, limits)
                for schema, view, files in views:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{files}])")
                assert con.execute(sql).to_arrow_table().num_rows > 0
                con.close()
            except Exception as exc:  # noqa: BLE001 - counted and reported
                error = f"{type(exc).__name__}: {exc}"
            with lock:
                samples.append(Sample(name, kind, qname, t0, time.perf_counter() - t0, error))

    threads = [threading.Thread(target=analyst, args=(n, args.seed + i)) for i, n in enumerate(names)]
    wall0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"samples": samples, "wall": time.perf_counter() - wall0}


def report(args: argparse.Namespace, result: dict) -> str:
    samples: list[Sample] = result["samples"]
    wall: float = result["wall"]
    failed = [s for s in samples if s.error]
    ok = [s for s in samples if not s.error]
    plain_failed = [s for s in result["plain"]["samples"] if s.error]
    plain_ok = [s for s in result["plain"]["samples"] if not s.error]
    lines = [
        "# Load test: concurrent analysts against `trust serve`",
        "",
        f"Generated by `benchmarks/load.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"{args.analysts} analysts (each with their own token) ran {args.queries} queries each, back to back, "
        f"through `trust.Client` over HTTP; {int(LARGE_SHARE * 100)}% large (cross-department joins with HMRC PAYE), "
        f"the rest small (one dataset). Data scale {args.scale}; server with {args.workers} query workers; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.machine()}.",
        "The departments and the trust server ran as separate processes on loopback.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| queries | {len(samples)} |",
        f"| failed | **{len(failed)}** |",
        f"| wall time | {wall:.1f} s |",
        f"| throughput | {len(ok) / wall:.2f} queries/s |",
        f"| latency p50 (all) | {percentile([s.seconds for s in ok], 0.5):.2f} s |",
        f"| latency p95 (all) | {percentile([s.seconds for s in ok], 0.95):.2f} s |",
        f"| latency max (all) | {max((s.seconds for s in ok), default=float('nan')):.2f} s |",
        f"| health check p95 under load | {percentile(result['health'], 0.95) * 1000:.0f} ms |",
        f"| plain DuckDB, same analysts and queries: failed | {len(plain_failed)} |",
        f"| plain DuckDB: wall time | {result['plain']['wall']:.1f} s |",
        f"| plain DuckDB: throughput | {len(plain_ok) / result['plain']['wall']:.2f} queries/s |",
        f"| plain DuckDB: latency p50 / p95 | {percentile([s.seconds for s in plain_ok], 0.5):.2f} s / "
        f"{percentile([s.seconds for s in plain_ok], 0.95):.2f} s |",
        f"| **governed throughput / plain** | **{(len(ok) / wall) / (len(plain_ok) / result['plain']['wall']):.2f}x** |",
        "",
        "| kind | queries | p50 | p95 | max |",
        "|---|---|---|---|---|",
    ]
    for kind in ("small", "large"):
        xs = [s.seconds for s in ok if s.kind == kind]
        lines.append(
            f"| {kind} | {len(xs)} | {percentile(xs, 0.5):.2f} s | {percentile(xs, 0.95):.2f} s | "
            f"{max(xs, default=float('nan')):.2f} s |"
        )
    lines += ["", "| query | kind | alone | n under load | p50 | p95 |", "|---|---|---|---|---|---|"]
    for name in sorted({s.name for s in ok}):
        xs = [s.seconds for s in ok if s.name == name]
        lines.append(
            f"| {name} | {next(s.kind for s in ok if s.name == name)} | {result['alone'][name]:.2f} s | "
            f"{len(xs)} | {statistics.median(xs):.2f} s | {percentile(xs, 0.95):.2f} s |"
        )
    lines += [
        "",
        "'alone' is one run of the query with the server otherwise idle. Under load the difference is "
        "time queued for one of the server's query workers and sharing the CPUs.",
    ]
    lines += ["", "No request failed." if not failed else f"**{len(failed)} requests failed:**"]
    lines += [f"- {s.analyst} {s.name}: {s.error}" for s in failed[:20]]
    lines += [f"- plain, {s.analyst} {s.name}: {s.error}" for s in plain_failed[:5]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--analysts", type=int, default=20)
    p.add_argument("--queries", type=int, default=8, help="queries per analyst")
    p.add_argument("--workers", type=int, default=8, help="the server's query workers")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--data-dir", default=str(REPO_ROOT / ".trust-demo" / "data"))
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "load.md"))
    args = p.parse_args(argv)
    result = report(args, run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result)
    print(result)
    return 0 if "No request failed." in result else 1


if __name__ == "__main__":
    sys.exit(main())
