"""What the noise costs analysts: the relative error of every published cell (issue 12's utility target).

Two sets of tables, each through the whole trust:

- **the demo's tables**: the department servers at demo scale, every query of the demo and of the
  analyst's walkthrough, plus crosstabs an analyst would ask (area by sex, region by age band, sector
  by size band, earnings by tax month), through an embedded session; the true values come from the
  checker's view of each stored output;
- **the 1,000,000-row benchmark table** of ``benchmarks/sdc_vs_acro.py`` (people in a 50 x 40 crosstab),
  served over HTTP: counts, sums and averages by region and sector, and the margins.

For each published cell with at least 100 units: |published - true| / |true|. It writes the
distribution (median, 90th, 99th percentile, largest) by statistic to
``benchmarks/results/perturbation.md``, with the method and its parameters. The target: the median
relative error at most 1% for cells of 100 units or more.

    .venv/bin/python benchmarks/perturbation.py          # about a minute
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sdc_vs_acro import DATASET, KEY, StaticServer, catalog_for, generate, governed_plan  # noqa: E402

from trust.catalog.register import access_for  # noqa: E402
from trust.config import REPO_ROOT  # noqa: E402
from trust.demo.environment import DEFAULT_SEED, demo_environment  # noqa: E402
from trust.demo.walkthrough import CROSS_DEPARTMENT, SMALL_AREA, SOUTH_WEST, TURNOVER  # noqa: E402
from trust.engine.execute import execute  # noqa: E402
from trust.engine.sandbox import Limits  # noqa: E402
from trust.sdc.parameters import Parameters  # noqa: E402
from trust.sdc.protect import protect  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results"
WORK = REPO_ROOT / "benchmarks" / ".work"
MIN_UNITS = 100

DEMO_QUERIES = {
    "cross-department earnings by region": (CROSS_DEPARTMENT, "demo-employment-support"),
    "claimants by area, London and South West": (SMALL_AREA, "demo-employment-support"),
    "turnover by industry": (TURNOVER, "demo-employment-support"),
    "South West claimants": (SOUTH_WEST, "demo-employment-support"),
    "claimants by area and sex": (
        "SELECT la_code, sex, count(*) AS n, avg(award_amount) AS mean_award FROM dwp.uc_claims GROUP BY 1, 2",
        "demo-employment-support",
    ),
    "awards by region and age band": (
        "SELECT region, age_band, count(*) AS n, sum(award_amount) AS awards FROM dwp.uc_claims GROUP BY 1, 2",
        "demo-employment-support",
    ),
    "claimants by region, with totals": (
        "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY ROLLUP (region, sex)",
        "demo-employment-support",
    ),
    "PAYE pay by tax month": (
        "SELECT tax_month, count(DISTINCT person_id) AS people, sum(gross_pay) AS pay, avg(gross_pay) AS mean_pay "
        "FROM hmrc.paye_employments GROUP BY tax_month",
        "demo-employment-support",
    ),
    "businesses by section and size band": (
        "SELECT sic_section, size_band, count(*) AS n, sum(employee_count) AS staff FROM desnz.businesses GROUP BY 1, 2",
        "demo-employment-support",
    ),
    "learners by area": (
        "SELECT la_code, count(*) AS aims, sum(CASE WHEN achieved THEN 1 ELSE 0 END) AS achieved FROM dfe.learners "
        "GROUP BY la_code",
        "demo-employment-support",
    ),
}
BENCH_QUERIES = {
    "counts by region and sector": f"SELECT region, sector, count(*) AS n FROM {DATASET} GROUP BY region, sector",
    "sums by region and sector": f"SELECT region, sector, sum(amount) AS amount FROM {DATASET} GROUP BY region, sector",
    "averages by region and sector": f"SELECT region, sector, avg(amount) AS mean FROM {DATASET} GROUP BY 1, 2",
    "people by region (a margin)": f"SELECT region, count(DISTINCT person_id) AS people FROM {DATASET} GROUP BY 1",
    "sums by sector (a margin)": f"SELECT sector, sum(amount) AS amount FROM {DATASET} GROUP BY sector",
}


def _errors(cells: list[Any], kinds: dict[str, str]) -> list[tuple[str, float]]:
    """(statistic, relative error) of every published cell of at least MIN_UNITS units."""
    found = []
    for c in cells:
        f = c.figures
        if c.status.value != "ok" or (c.units or 0) < MIN_UNITS or f.get("value") in (None, 0):
            continue
        if f.get("published") is None:
            continue
        found.append(
            (kinds.get(c.column, "other"), abs(float(f["published"]) - float(f["value"])) / abs(float(f["value"])))
        )
    return found


def demo_errors(scale: float) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    data = WORK / "perturbation" / "data"
    with demo_environment(Path(tempfile.mkdtemp()), data, scale=scale, seed=DEFAULT_SEED) as env:
        trust = env.trust()
        for name, (sql, project) in DEMO_QUERIES.items():
            published = trust.session("ana", project).sql(sql)
            checked = trust.queries.output("carol", published.id)
            plan = trust.queries.check("ana", project, sql).plan
            kinds = {o.name: o.function or "other" for o in plan.outputs}
            out[name] = _errors(list(checked.report.cells), kinds)
    return out


def bench_errors(rows: int) -> dict[str, list[tuple[str, float]]]:
    data_dir = WORK / "sdc_bench" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "claims.parquet"
    if not path.exists():
        generate(path, rows, 50, 40, 20261122)
    limits = Limits(memory_limit="2GB", threads=2, timeout_s=600)
    out: dict[str, list[tuple[str, float]]] = {}
    with StaticServer(data_dir) as server:
        catalog = catalog_for(f"{server.url}/claims.parquet", limits)
        access = access_for([catalog.get(DATASET)], {})
        for name, sql in BENCH_QUERIES.items():
            text, plan = governed_plan(sql, catalog)
            result = execute(text, access, limits, parameters=KEY)
            protected = protect(result.table, plan, Parameters(), max_rows=10_000)
            kinds = {o.name: o.function or "other" for o in plan.outputs}
            out[name] = _errors(list(protected.report.cells), kinds)
    return out


def _summary(errors: list[float]) -> str:
    if not errors:
        return "| 0 | | | | |"
    e = sorted(errors)
    pct = lambda q: e[min(len(e) - 1, int(q * len(e)))]  # noqa: E731
    return f"| {len(e):,} | {statistics.median(e):.3%} | {pct(0.9):.3%} | {pct(0.99):.3%} | {e[-1]:.3%} |"


def write(results: dict[str, dict[str, list[tuple[str, float]]]], machine: str) -> Path:
    noise = Parameters().noise
    assert noise is not None
    lines = [
        "# Perturbation: what the noise costs",
        "",
        f"Generated by `benchmarks/perturbation.py` on {machine}. Relative error |published - true| / |true| of "
        f"every published cell drawn from at least {MIN_UNITS} units (people or businesses), through the whole "
        "trust; the true values are the output checker's view of each stored output.",
        "",
        "## Method and parameters",
        "",
        "The cell key method (docs/disclosure.md, section 2): record keys are the first 64 bits of SHA-256 of a "
        "secret and the unit's key; a cell's key is its contributing units' record keys summed modulo 2^32.",
        "",
        f"- **Counts** (and sums of 0/1 indicators): published = n + v, v from a maximum-entropy perturbation table "
        f"on -{noise.max_deviation}..{noise.max_deviation} with mean 0 and variance {noise.variance} "
        "(`max_deviation`, `variance`).",
        f"- **Sums**: published = S + x1 * ({noise.top_share} * d1 + {noise.cell_share} * w): x1 the largest "
        "contribution, d1 in ±[0.5, 1] from the largest contributor's record key, w from a table on "
        f"-{noise.max_deviation}..{noise.max_deviation} with variance {noise.magnitude_variance} "
        "(`top_share`, `cell_share`, `magnitude_variance`).",
        "- **Averages**: the perturbed sum over the perturbed count.",
        "",
    ]
    everything: dict[str, list[float]] = {}
    for title, tables in results.items():
        lines += [
            f"## {title}",
            "",
            "| table | cells | median | 90th | 99th | largest |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        pooled: dict[str, list[float]] = {}
        for name, errors in tables.items():
            lines.append(f"| {name} " + _summary([e for _, e in errors]))
            for kind, e in errors:
                pooled.setdefault(kind, []).append(e)
                everything.setdefault(kind, []).append(e)
        lines += ["", "| statistic | cells | median | 90th | 99th | largest |", "|---|---:|---:|---:|---:|---:|"]
        for kind, errors in sorted(pooled.items()):
            lines.append(f"| {kind} " + _summary(errors))
        lines.append("| **all** " + _summary([e for v in pooled.values() for e in v]))
        lines.append("")
    overall = [e for v in everything.values() for e in v]
    median = statistics.median(overall) if overall else float("nan")
    lines += [
        "## Against the target",
        "",
        f"Median relative error over all {len(overall):,} published cells of {MIN_UNITS} units or more: "
        f"**{median:.3%}** (target: at most 1%: {'met' if median <= 0.01 else 'NOT met'}). By statistic: "
        + "; ".join(f"{k} {statistics.median(v):.3%}" for k, v in sorted(everything.items()))
        + ".",
        "",
        "Sums and averages carry noise in proportion to their largest single contribution, so a cell dominated "
        "by a few large contributors (business turnover) moves more than a cell of many similar ones (benefit "
        "awards); the noise is what keeps a contributor's value, or a small group's existence, from being read "
        "back by subtraction (tests/attacks).",
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "perturbation.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--scale", type=float, default=1.0, help="the demo data's scale")
    args = ap.parse_args()
    machine = f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs"
    results = {
        "The demo's tables": demo_errors(args.scale),
        "The 1,000,000-row benchmark table": bench_errors(args.rows),
    }
    print(write(results, machine))


if __name__ == "__main__":
    main()
