"""Policy decision benchmark: how fast the trust decides, for realistic inputs.

Builds the policy from ``policies/`` (regopy bundle, once) and decides every policy case in
``tests/policy/cases`` (input documents built from the catalogue as the service builds them:
allowed and denied, one to four datasets, joins, obligations) many times over. Reports the build
time, decisions per second and p50/p95/max latency, uncached (every decision evaluated) and
cached (the same input again), the whole ``data.trust.decision`` evaluated in regopy for comparison
(the trust evaluates ``data.trust.partial_decision`` and works the thresholds out in Python), and
through a real OPA server when ``opa`` is on PATH. Writes ``benchmarks/results/policy.md``.

    .venv/bin/python benchmarks/policy.py               # 20 rounds over all cases
    .venv/bin/python benchmarks/policy.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trust  # noqa: E402,F401  (loads the engine before regopy; see trust/policy/__init__.py)
from trust.catalog import load_catalog  # noqa: E402
from trust.config import REPO_ROOT  # noqa: E402
from trust.policy.cases import Case, all_cases  # noqa: E402
from trust.policy.embedded import QUERY, EmbeddedPolicy, policy_data  # noqa: E402

POLICIES = REPO_ROOT / "policies"
RESULTS = Path(__file__).resolve().parent / "results" / "policy.md"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(decide: Callable[[dict], object], cases: list[Case], rounds: int) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        for case in cases:
            t = time.perf_counter()
            decide(case.document)
            latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    return {
        "n": len(latencies),
        "per_s": len(latencies) / wall,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
    }


def opa_server() -> tuple[subprocess.Popen, str] | None:
    binary = shutil.which("opa")
    if binary is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return proc, f"http://127.0.0.1:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="passes over all cases (default 20)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    cases = all_cases(
        REPO_ROOT / "tests" / "policy" / "cases", load_catalog(REPO_ROOT / "catalog"), policy_data(POLICIES)["projects"]
    )
    builds = []
    for _ in range(5):
        t = time.perf_counter()
        EmbeddedPolicy(POLICIES)
        builds.append(time.perf_counter() - t)
    uncached = EmbeddedPolicy(POLICIES, cache_size=0)
    cached = EmbeddedPolicy(POLICIES)
    whole = EmbeddedPolicy(POLICIES, query=QUERY, cache_size=0)
    for case in cases:  # warm up, and check every case still passes, the same both ways
        decision = uncached.decide(case.document)
        assert not case.mismatches(decision), case.id
        assert decision.to_json() == whole.decide(case.document).to_json(), case.id
        cached.decide(case.document)
    rows: list[tuple[str, dict[str, float]]] = [
        ("embedded, every decision evaluated", measure(uncached.decide, cases, args.rounds)),
        (
            "embedded, allowed inputs only",
            measure(uncached.decide, [c for c in cases if c.expect["allow"]], args.rounds),
        ),
        (
            "embedded, denied inputs only",
            measure(uncached.decide, [c for c in cases if not c.expect["allow"]], args.rounds),
        ),
        ("embedded, repeated input (cache hit)", measure(cached.decide, cases, args.rounds)),
        ("embedded, whole data.trust.decision in regopy", measure(whole.decide, cases, args.rounds)),
    ]
    opa_note = "No `opa` binary on PATH, so no OPA server figures; install OPA and rerun to add them."
    server = opa_server()
    if server is not None:
        from trust.policy.opa import OpaPolicy

        proc, url = server
        try:
            remote = OpaPolicy(url)
            remote.publish(POLICIES)
            rows.append((f"OPA server over HTTP ({url})", measure(remote.decide, cases, max(1, args.rounds // 4))))
            opa_note = "The OPA row is a real `opa run --server` on loopback, reached with opa-python-client."
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    allowed = sum(1 for c in cases if c.expect["allow"])
    lines = [
        "# Policy decisions: embedded regopy (and OPA when available)",
        "",
        f"Generated by `benchmarks/policy.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.machine()}.",
        f"Inputs: the {len(cases)} policy cases in `tests/policy/cases` ({allowed} allowed, {len(cases) - allowed} denied; "
        "one to four datasets, joins, row filters, masks), each a full input document as the service builds it, "
        f"decided {args.rounds} times over, one thread.",
        "",
        f"Policy build (parse, compile, bundle; once per process): median {statistics.median(builds) * 1000:.0f} ms "
        f"over {len(builds)} builds.",
        "",
        "| path | decisions | decisions/s | p50 | p95 | max |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['n']} | {r['per_s']:.0f} | {r['p50'] * 1000:.2f} ms | {r['p95'] * 1000:.2f} ms | "
            f"{r['max'] * 1000:.2f} ms |"
        )
    lines += [
        "",
        "Notes:",
        "- The embedded evaluator serialises decisions (one regopy interpreter per trust process), so decisions/s "
        "is also its ceiling under concurrency; a decision is a small part of a query (tens of ms against seconds "
        "of engine time in `load.md`).",
        "- The cache keys on the whole input document (user, project, date and query shape), so only an identical "
        "request hits it; the policy and its data are fixed for the life of the process.",
        "- The trust evaluates `data.trust.partial_decision` as a bundle entry point and works the strictest "
        "disclosure thresholds out in Python (`trust/policy/thresholds.py`), deciding exactly what "
        "`data.trust.decision` decides (checked on every case above, by `tests/policy/test_thresholds.py` and by "
        "`trust policy check`); the last embedded row evaluates that whole decision in regopy, as OPA and the "
        "policy tests do.",
        f"- {opa_note}",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
