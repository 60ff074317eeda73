"""The SQL gatekeeper's added latency: parse + validate + resolve + describe, per control query.

Runs every control query of the corpus (tests/sql/corpus/control.yaml) many times through the four
gatekeeper stages against the real registered catalogue (department servers started once to read
the Parquet footers, as the trust does), and reports the median and 95th percentile per query and
over all of them. The structural checks and the rewrite, which also run before the engine, are
timed separately for context. Writes ``benchmarks/results/gatekeeper.md``.

    .venv/bin/python benchmarks/gatekeeper.py                 # 200 runs per query
    .venv/bin/python benchmarks/gatekeeper.py --runs 50
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trust.config import REPO_ROOT  # noqa: E402
from trust.demo.environment import demo_environment  # noqa: E402
from trust.sql.describe import describe  # noqa: E402
from trust.sql.parse import parse  # noqa: E402
from trust.sql.protect import check_structure  # noqa: E402
from trust.sql.resolve import resolve  # noqa: E402
from trust.sql.rewrite import no_obligations, rewrite  # noqa: E402
from trust.sql.validate import validate  # noqa: E402

CONTROLS = REPO_ROOT / "tests" / "sql" / "corpus" / "control.yaml"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "gatekeeper.md"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(sql: str, catalog: Any, runs: int) -> tuple[list[float], list[float]]:
    """Per run: seconds for parse + validate + resolve + describe, and for structure + rewrite."""
    gatekeeper, after = [], []
    for _ in range(runs):
        start = time.perf_counter()
        parsed = parse(sql)
        validate(parsed)
        description = describe(resolve(parsed, catalog), catalog)
        middle = time.perf_counter()
        check_structure(description)
        rewrite(description, catalog, no_obligations())
        end = time.perf_counter()
        gatekeeper.append(middle - start)
        after.append(end - middle)
    return gatekeeper, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per control query (default 200)")
    parser.add_argument("--scale", type=float, default=0.5, help="demo data scale for the footers (default 0.5)")
    args = parser.parse_args()
    controls = yaml.safe_load(CONTROLS.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        with demo_environment(Path(tmp) / "home", Path(tmp) / "data", scale=args.scale) as env:
            catalog = env.trust().catalog.bound()  # footers read once, as the trust does on first use
    rows, every, every_after, every_total = [], [], [], []
    for control in controls:
        measure(control["sql"], catalog, 5)  # warm caches (sqlglot's, the schema's)
        gc.collect()
        gatekeeper, after = measure(control["sql"], catalog, args.runs)
        every += gatekeeper
        every_after += after
        every_total += [g + a for g, a in zip(gatekeeper, after)]
        rows.append(
            (
                control["id"],
                statistics.median(gatekeeper),
                percentile(gatekeeper, 0.95),
                statistics.median(after),
                percentile(after, 0.95),
            )
        )
    medians = [r[1] for r in rows]
    lines = [
        "# SQL gatekeeper: added latency per query",
        "",
        "Parse + validate + resolve + describe (the gatekeeper stages before the policy decides), for each",
        f"control query in `tests/sql/corpus/control.yaml`, {args.runs} runs each after 5 warm-up runs,",
        "against the real registered catalogue. Structural checks + rewrite (which also run before the",
        "engine) are shown separately. Produced by `.venv/bin/python benchmarks/gatekeeper.py`.",
        "",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}.",
        "",
        "## Summary",
        "",
        "| measure | median | p95 |",
        "|---|---:|---:|",
        f"| gatekeeper, all runs of all {len(rows)} queries | {statistics.median(every) * 1e3:.2f} ms "
        f"| {percentile(every, 0.95) * 1e3:.2f} ms |",
        f"| gatekeeper, per-query medians | {statistics.median(medians) * 1e3:.2f} ms "
        f"| {percentile(medians, 0.95) * 1e3:.2f} ms |",
        f"| structure + rewrite, all runs | {statistics.median(every_after) * 1e3:.2f} ms "
        f"| {percentile(every_after, 0.95) * 1e3:.2f} ms |",
        f"| **governance before the engine (parse to rewrite, without the policy decision), all runs** "
        f"| **{statistics.median(every_total) * 1e3:.2f} ms** | {percentile(every_total, 0.95) * 1e3:.2f} ms |",
        "",
        "## Per query",
        "",
        "| control query | gatekeeper median | gatekeeper p95 | structure + rewrite median | p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {m * 1e3:.2f} ms | {p * 1e3:.2f} ms | {am * 1e3:.2f} ms | {ap * 1e3:.2f} ms |"
        for name, m, p, am, ap in rows
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[10:17]))
    print(f"written to {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
