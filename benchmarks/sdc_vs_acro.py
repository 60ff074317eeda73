"""Disclosure control side by side: the trust against ACRO on one 1,000,000-row table.

The table: people with one to several rows each (monthly payments), in 50 regions by 40
sectors, so a region x sector crosstab has 2,000 cells; cell sizes are skewed so some are
small, and a few cells have one very large payment (dominance). The same Parquet file is

- checked by ACRO (PyPI ``acro``, installed here in its own virtual environment under
  ``benchmarks/.work/acro-venv``): ``acro.crosstab`` with suppression, for counts and for
  sums (threshold, dominance, p%, zeros); the data is already in a pandas DataFrame, so only
  ACRO's check and table are timed;
- queried through the trust over HTTP, as a department would serve it: the SQL stages,
  the rewrite with companion statistics, the sandboxed engine, and ``trust.sdc.protect``
  (every rule, including the population sketches for differencing), timed end to end;
- queried plainly in DuckDB, over the same remote file, without disclosure control, so the
  cost of the companion statistics is known; two alternative shapes of the companion query
  (per-unit subquery joined back, read once through a materialised CTE or twice) are timed too.

It writes ``benchmarks/results/sdc_vs_acro.md`` (and ``.json``): both times and their ratio,
and every cell where the two disagree, each with the reason.

    .venv/bin/python benchmarks/sdc_vs_acro.py              # about two minutes, most of it ACRO
    .venv/bin/python benchmarks/sdc_vs_acro.py --rows 100000 --repeat 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trust.catalog.model import Catalog, Column, Dataset, Role  # noqa: E402
from trust.catalog.register import access_for, register  # noqa: E402
from trust.config import REPO_ROOT  # noqa: E402
from trust.engine.execute import execute  # noqa: E402
from trust.engine.sandbox import Limits  # noqa: E402
from trust.sdc.cells import Parameters  # noqa: E402
from trust.sdc.protect import protect  # noqa: E402
from trust.sql.describe import describe  # noqa: E402
from trust.sql.parse import parse  # noqa: E402
from trust.sql.protect import check_structure  # noqa: E402
from trust.sql.resolve import resolve  # noqa: E402
from trust.sql.rewrite import no_obligations, rewrite  # noqa: E402
from trust.sql.validate import validate  # noqa: E402

WORK = REPO_ROOT / "benchmarks" / ".work"
ACRO_VENV = WORK / "acro-venv"
ACRO_VERSION = "1.0.2"
ACRO_REQUIREMENTS = Path(__file__).resolve().parent / "acro-requirements.txt"  # exact pins, acro==ACRO_VERSION
RESULTS = REPO_ROOT / "benchmarks" / "results"
DATASET = "bench.claims"

QUERIES = {
    "counts": f"SELECT region, sector, count(*) AS n FROM {DATASET} GROUP BY region, sector",
    "sums": f"SELECT region, sector, sum(amount) AS amount FROM {DATASET} GROUP BY region, sector",
    # The same crosstab with its margins, as ACRO's margins=True: totals written as UNION ALL branches.
    "margins": f"SELECT region, sector, count(*) AS n FROM {DATASET} GROUP BY region, sector "
    f"UNION ALL SELECT region, 'All', count(*) FROM {DATASET} GROUP BY region "
    f"UNION ALL SELECT 'All', sector, count(*) FROM {DATASET} GROUP BY sector "
    f"UNION ALL SELECT 'All', 'All', count(*) FROM {DATASET}",
}
TIMED = ("counts", "sums")  # the 10x target; margins are compared for protection

ACRO_WORKER = r"""
# Runs inside ACRO's own environment: loads the table once, then times each check it is asked for.
import json, logging, sys, time
import pandas as pd
import acro as acro_module
from acro import ACRO
path = sys.argv[1]
t = time.perf_counter(); df = pd.read_parquet(path, columns=["region", "sector", "amount"]); load = time.perf_counter() - t
acro = ACRO(suppress=True)
logging.getLogger("acro").setLevel(logging.WARNING)
KINDS = {"counts": {}, "sums": {"values": df["amount"], "aggfunc": "sum"}, "margins": {"margins": True}}
last = {}
print("@@" + json.dumps({"load_s": load, "version": getattr(acro_module, "__version__", "?")}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "run":
        kind = cmd[1]
        try:
            t = time.perf_counter()
            table = acro.crosstab(df["region"], df["sector"], **KINDS[kind])
            took = time.perf_counter() - t
            last[kind] = (table, list(acro.results.results.values())[-1])
            print("@@" + json.dumps({"s": took}), flush=True)
        except Exception as exc:
            print("@@" + json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
    elif cmd[0] == "dump":
        out = {}
        for kind, (table, record) in last.items():
            cells = {}
            for region in table.index:
                for sector in table.columns:
                    value = table.loc[region, sector]
                    outcome = record.outcome
                    why = str(outcome.loc[region, sector]) if region in outcome.index and sector in outcome.columns else ""
                    cells[f"{region}|{sector}"] = {"value": None if pd.isna(value) else float(value), "outcome": why}
            out[kind] = {"cells": cells, "status": record.status}
        json.dump(out, open(cmd[1], "w"))
        print("@@{}", flush=True)
    else:
        break
"""


# -- data ---------------------------------------------------------------------------------------


def generate(path: Path, rows: int, regions: int, sectors: int, seed: int) -> dict[str, Any]:
    """People in region x sector cells of skewed sizes, 1 to 6 rows each; a few dominant payments."""
    rng = np.random.default_rng(seed)
    cells = regions * sectors
    weights = np.exp(rng.normal(0.0, 1.6, cells))
    per_person = 1 + rng.poisson(2.0, size=rows)  # more than enough people
    ends = np.cumsum(per_person)
    people = int(np.searchsorted(ends, rows)) + 1
    per_person = per_person[:people]
    per_person[-1] -= ends[people - 1] - rows
    cell_of_person = rng.choice(cells, size=people, p=weights / weights.sum())
    person_of_row = np.repeat(np.arange(people), per_person)
    cell_of_row = cell_of_person[person_of_row]
    amount = np.round(rng.lognormal(7.0, 0.6, rows), 2)
    dominated = rng.choice(cells, size=cells // 50, replace=False)  # 2% of cells: one person paid a fortune
    for c in dominated:
        rows_in = np.flatnonzero(cell_of_row == c)
        if len(rows_in):
            amount[rows_in[0]] = float(np.round(amount[rows_in].sum() * 20, 2))
    table = pa.table(
        {
            "person_id": pa.array([f"p{i:07d}" for i in person_of_row]),
            "region": pa.array([f"R{c // sectors:02d}" for c in cell_of_row]),
            "sector": pa.array([f"S{c % sectors:02d}" for c in cell_of_row]),
            "amount": pa.array(amount),
        }
    )
    order = np.lexsort((person_of_row, cell_of_row))  # rows of a cell together, as an extract often is
    pq.write_table(table.take(pa.array(order)), path, row_group_size=122_880)
    return {
        "rows": rows,
        "people": people,
        "cells_with_people": int(len(np.unique(cell_of_person))),
        "dominated_cells": len(dominated),
    }


# -- ACRO, in its own environment -------------------------------------------------------------------


def acro_python() -> Path:
    python = ACRO_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ACRO_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import acro, pyarrow"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(ACRO_REQUIREMENTS)], check=True)
    return python


class AcroWorker:
    """ACRO in its own environment, as a long-lived process, so its runs interleave with the trust's."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [str(acro_python()), "-c", ACRO_WORKER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise RuntimeError("ACRO's worker stopped")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        self.process.wait(timeout=60)


# -- the trust --------------------------------------------------------------------------------------

SERVER = r"""
import socket, sys, uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
app = Starlette(routes=[Mount("/", app=StaticFiles(directory=sys.argv[1]))])
uvicorn.Server(uvicorn.Config(app, lifespan="off", access_log=False, log_config=None, log_level="warning")).run(
    sockets=[sock])
"""


class StaticServer:
    """The benchmark folder over HTTP (range requests) from its own process, as a department would serve it.

    Its own process, not a thread: an engine waiting on a server that needs this process's GIL can deadlock.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> StaticServer:
        import httpx

        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.directory)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        for _ in range(500):
            try:
                httpx.get(self.url + "/")
                return self
            except httpx.TransportError:
                time.sleep(0.01)
        raise RuntimeError("benchmark file server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def catalog_for(url: str, limits: Limits) -> Catalog:
    ds = Dataset(
        id=DATASET,
        department="BENCH",
        title="Benchmark claims",
        location=(url,),
        unit_key="person_id",
        columns=(
            Column("person_id", Role.LINKAGE_KEY),
            Column("region", Role.DIMENSION),
            Column("sector", Role.DIMENSION),
            Column("amount", Role.MEASURE),
        ),
    )
    return register(Catalog({DATASET: ds}), {}, {}, limits)


KEY = {"trust_key": "benchmark-secret-0123456789abcdef"}  # the record-key secret, bound as a parameter


def governed_plan(sql: str, catalog: Catalog, *, noise: bool = True) -> tuple[str, Any]:
    """The trust's SQL stages: the plan's SQL carries the companion statistics (``rewrite`` adds them) and,
    with noise (the default), each aggregate's cell key."""
    parsed = parse(sql)
    validate(parsed)
    description = describe(resolve(parsed, catalog), catalog)
    check_structure(description)
    plan = rewrite(description, catalog, no_obligations(), keyed=noise, min_units=Parameters().min_units)
    return plan.sql, plan


def trust_once(sql: str, catalog: Catalog, limits: Limits, *, noise: bool = True) -> tuple[dict[str, float], Any]:
    """One governed query end to end: SQL stages and rewrite, sandboxed engine, every rule and, with noise
    (the default), the perturbation of every number; with ``noise=False``, suppression instead."""
    access = access_for([catalog.get(DATASET)], {})
    t0 = time.perf_counter()
    text, plan = governed_plan(sql, catalog, noise=noise)
    t1 = time.perf_counter()
    result = execute(text, access, limits, parameters=KEY if plan.keyed else None)
    t2 = time.perf_counter()
    params = Parameters() if noise else dataclasses.replace(Parameters(), noise=None)
    protected = protect(result.table, plan, params, max_rows=10_000)
    t3 = time.perf_counter()
    return {"sql_stages_s": t1 - t0, "engine_s": t2 - t1, "protect_s": t3 - t2, "total_s": t3 - t0}, protected


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def time_variants(variants: dict[str, str], catalog: Catalog, limits: Limits, repeat: int) -> dict[str, float]:
    """Engine time of each SQL text over the catalogue's file: interleaved, the best of ``repeat`` runs."""
    access = access_for([catalog.get(DATASET)], {})
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat + 1):
        for name, sql in variants.items():
            t = time.perf_counter()
            execute(sql, access, limits, parameters=KEY if "$trust_key" in sql else None)
            times[name].append(time.perf_counter() - t)
    return {name: min(t[1:]) for name, t in times.items()}


def alternatives(url: str, kind: str) -> dict[str, str]:
    src = f"read_parquet(['{url}'])"
    agg = "count(*) AS n" if kind == "counts" else "sum(amount) AS amount"
    plain = f"SELECT region, sector, {agg} FROM {src} GROUP BY region, sector"
    join_back = """
        {with} r AS {mat} (SELECT region, sector, person_id, amount FROM {src}),
        c AS (SELECT region, sector, {agg} FROM r GROUP BY region, sector),
        u AS (SELECT region, sector, person_id, sum(amount) AS s FROM r GROUP BY region, sector, person_id),
        k AS (SELECT region, sector, count(*) AS units, max(s, 10) AS top, sum(s) AS total, bool_or(s < 0) AS neg,
                     list(hash(person_id)) AS population FROM u GROUP BY region, sector)
        SELECT c.*, k.units, k.top, k.total, k.neg, k.population FROM c JOIN k
          ON c.region IS NOT DISTINCT FROM k.region AND c.sector IS NOT DISTINCT FROM k.sector"""
    units_only = f"SELECT region, sector, {agg}, count(DISTINCT person_id) AS units FROM {src} GROUP BY region, sector"
    return {
        "plain DuckDB, no disclosure control": plain,
        "unit counts only (count(DISTINCT person_id) per cell, no contributions)": units_only,
        "per-unit subquery joined back, one read (materialised CTE)": join_back.format(
            **{"with": "WITH", "mat": "MATERIALIZED", "src": src, "agg": agg}
        ),
        "per-unit subquery joined back, two reads": join_back.format(
            **{"with": "WITH", "mat": "NOT MATERIALIZED", "src": src, "agg": agg}
        ),
    }


# -- comparison ----------------------------------------------------------------------------------


def _acro_reason(outcome: str) -> str:
    names = {
        "MinimumThresholdCheck": "threshold",
        "NKCheck": "dominance",
        "PPercentCheck": "p%",
        "PresenceOfZeroCheck": "zero",
    }
    found = [v for k, v in names.items() if k in outcome]
    return ", ".join(found) or "ok"


def _key(v: Any) -> str:
    return "All" if v is None else str(v)


def compare(
    kind: str, acro: dict[str, Any], protected: Any, truth: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, Any]:
    table = protected.table
    column = table.column_names[-1]
    report = {(c.row, c.column): c for c in protected.report.cells}
    trust = {}
    for r in range(table.num_rows):
        key = (_key(table.column("region")[r].as_py()), _key(table.column("sector")[r].as_py()))
        trust[key] = (report[(r, column)], table.column(column)[r].as_py())
    keys = sorted(
        (set(truth) | {tuple(k.split("|")) for k in acro["cells"]})
        - (set() if kind == "margins" else {k for k in truth if "All" in k})
    )
    rows, counts = [], Counter()
    for key in keys:
        a = acro["cells"].get(f"{key[0]}|{key[1]}", {"value": None, "outcome": "absent"})
        cell, shown = trust.get(key, (None, None))
        s = truth.get(key, {"rows": 0, "people": 0, "amount": 0.0})
        acro_hidden = a["value"] is None
        trust_hidden = cell is None or cell.status.value != "ok"
        margin = "All" in key
        true_value = s["rows"] if kind != "sums" else s["amount"]
        if acro_hidden == trust_hidden:
            if margin and not acro_hidden and abs(a["value"] - true_value) > 1e-6 * max(1.0, abs(true_value)):
                why = (
                    f"ACRO's margin is the sum of its shown cells, {a['value']:,.0f}, not the true total "
                    f"{true_value:,.0f} the trust shows: the two differ by the suppressed cells, so a true total "
                    "from any other output gives them back"
                )
                counts["margin is not the true total"] += 1
                rows.append(_row(key, a, cell, s, why))
            else:
                counts["same"] += 1
            continue
        label, why = _explain(a, cell, s)
        counts[label] += 1
        rows.append(_row(key, a, cell, s, why))
    return {"counts": dict(counts), "cells": rows}


def _row(key: tuple[str, str], a: dict[str, Any], cell: Any, s: dict[str, Any], why: str) -> dict[str, Any]:
    acro = "suppressed (" + _acro_reason(a["outcome"]) + ")" if a["value"] is None else "shown"
    trust = "absent" if cell is None else cell.status.value + (f" ({cell.rule})" if cell.rule else "")
    return {
        "cell": f"{key[0]} x {key[1]}",
        "acro": acro,
        "trust": trust,
        "rows": s["rows"],
        "people": s["people"],
        "why": why,
    }


def _explain(a: dict[str, Any], cell: Any, s: dict[str, Any]) -> tuple[str, str]:
    if cell is None and s["people"] > 0:
        return (
            "people, not rows",
            f"{s['rows']} rows but {s['people']} people: the row never leaves the trust's engine (fewer than 10 "
            "people); ACRO counts rows",
        )
    if cell is None:
        return (
            "empty cell",
            "no one is in this cell: a SQL GROUP BY has no row for it, so the trust publishes "
            "nothing; ACRO's crosstab shows 0 and suppresses it as a disclosive zero",
        )
    rule = cell.rule or ""
    hidden_by_acro = a["value"] is None
    if rule == "min_units" and s["rows"] >= 10:
        return (
            "people, not rows",
            f"{s['rows']} rows but {s['people']} people: ACRO counts rows, the trust counts units (people)",
        )
    if rule in ("dominance", "p_percent") and not hidden_by_acro:
        return (
            "per-person contributions",
            f"ACRO ranks single rows; the trust first sums each person's rows, and "
            f"per person the cell fails {rule} ({cell.detail})",
        )
    if rule == "secondary":
        return ("secondary suppression", f"{cell.detail}; ACRO does not protect cells from recovery by subtraction")
    if rule == "differencing":
        return ("differencing", cell.detail)
    if cell.status.value == "ok" and hidden_by_acro:
        if "MinimumThresholdCheck" in a["outcome"]:
            return ("rows vs people", f"ACRO: {s['rows']} rows < 10")
        if "NKCheck" in a["outcome"] or "PPercentCheck" in a["outcome"]:
            return (
                "per-person contributions",
                "ACRO ranks single rows; summed per person the cell is not dominated "
                f"(top-2 share {cell.figures.get('dominance_share')})",
            )
        return ("other", f"ACRO: {a['outcome'].strip()}")
    return ("other", f"trust: {cell.status.value} {rule} {cell.detail}; ACRO: {a['outcome'].strip()}")


def truth_of(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    rows = con.execute(
        f"SELECT coalesce(region, 'All'), coalesce(sector, 'All'), count(*), count(DISTINCT person_id), sum(amount) "
        f"FROM read_parquet('{path}') GROUP BY GROUPING SETS ((region, sector), (region), (sector), ())"
    ).fetchall()
    return {(r, s): {"rows": n, "people": p, "amount": a} for r, s, n, p, a in rows}


# -- report -------------------------------------------------------------------------------------


def write(results: dict[str, Any], path: Path) -> None:
    d = results["data"]
    lines = [
        "# Disclosure control: the trust against ACRO",
        "",
        f"Generated by `benchmarks/sdc_vs_acro.py` on {results['machine']}. {d['rows']:,} rows, "
        f"{d['people']:,} people, a {d['cells']:,}-cell crosstab (region x sector). ACRO {results['acro_version']} "
        f"ran in its own environment; each ACRO check was followed by the trust's run of the same table, "
        f"{results['repeat']} times after a warm-up, so both saw the same machine load; times are medians.",
        "",
    ]
    lines += [
        "## Times",
        "",
        "| table | ACRO check | trust end to end (HTTP) | ratio | SQL stages | engine | protect | "
        "trust end to end (local file) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in TIMED:
        t = results["trust"][kind]
        loc = results["trust_local"][kind]
        a = results["acro"].get(kind)
        ratio = f"**{a / t['total_s']:.1f}x**" if a else "n/a"
        lines.append(
            f"| {kind} | {a:.2f} s | {t['total_s']:.3f} s | {ratio} | {t['sql_stages_s']:.3f} s | "
            f"{t['engine_s']:.3f} s | {t['protect_s']:.3f} s | {loc['total_s']:.3f} s | "
            f"{a / loc['total_s']:.1f}x |"
            if a
            else f"| {kind} | n/a | {t['total_s']:.3f} s | n/a | {t['sql_stages_s']:.3f} s | {t['engine_s']:.3f} s | "
            f"{t['protect_s']:.3f} s | {loc['total_s']:.3f} s | n/a |"
        )
    lines += [
        "",
        "ACRO's time is `acro.crosstab(region, sector[, values=amount, aggfunc='sum'])` with suppression, "
        f"on a DataFrame already in memory (loading the file took another {results['acro_load_s']:.2f} s). The "
        "trust's time starts from SQL text and ends with the protected table and its per-cell report: parse, "
        "validate, resolve, describe, structural checks, rewrite with companion statistics, the sandboxed "
        "engine (a fresh DuckDB with httpfs, reading the file from a local HTTP server as a department would "
        "serve it), then every rule and the perturbation of every number (the cell key method). The policy decision "
        "and the audit write are not included (see benchmarks/results/policy.md and gatekeeper.md).",
        "",
    ]
    if "margins" in results["trust"]:
        t = results["trust"]["margins"]
        a = results["acro"].get("margins")
        lines += [
            f"With margins (ACRO `margins=True`; the trust a UNION ALL of the crosstab, its row and column "
            f"totals and the grand total, four reads of the file): ACRO {a:.2f} s, trust {t['total_s']:.3f} s."
            if a
            else "",
            "",
        ]
    lines += [
        "## The cost of companion statistics",
        "",
        "The same aggregation over the same remote file, engine time only (each including a fresh sandbox of "
        "about a quarter of a second; the variants run in turn, best of several runs, so machine load "
        "affects them alike):",
        "",
        "| query | counts | sums |",
        "|---|---:|---:|",
    ]
    for name in results["engine"]["counts"]:
        lines.append(
            f"| {name} | {results['engine']['counts'][name]:.3f} s | {results['engine']['sums'][name]:.3f} s |"
        )
    lines += [
        "",
        "The governed query is the two-level aggregation of `trust/sql/companions.py`: one read of the "
        "file, an inner GROUP BY (cell, record key of person) and an outer GROUP BY cell that re-aggregates the "
        "analyst's values and adds the per-person largest contributions (`max(x, 10)`), totals, negatives, "
        "non-zero contributors and each aggregate's cell key. 'Unit counts only' is the least any person-level "
        "control needs (`count(DISTINCT person_id)` per cell). The join-back shapes compute the same companions with a "
        "separate per-person subquery joined to the plain aggregation.",
        "",
    ]
    lines += ["## Where the two disagree, cell by cell", ""]
    for kind, comp in results["compare"].items():
        lines += [f"### {kind}", "", "| | cells |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(comp["counts"].items(), key=lambda kv: -kv[1])]
        lines += [
            "",
            "<details><summary>every disagreeing cell</summary>",
            "",
            "| cell | ACRO | trust | rows | people | why |",
            "|---|---|---|---:|---:|---|",
        ]
        lines += [
            f"| {c['cell']} | {c['acro']} | {c['trust']} | {c['rows']} | {c['people']} | {c['why']} |"
            for c in comp["cells"]
        ]
        lines += ["", "</details>", ""]
    lines += ["## Notes", "", *[f"- {n}" for n in results["notes"]], ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--regions", type=int, default=50)
    ap.add_argument("--sectors", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--skip-acro", action="store_true", help="only the trust's side")
    args = ap.parse_args()

    data_dir = WORK / "sdc_bench" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "claims.parquet"
    data = generate(path, args.rows, args.regions, args.sectors, args.seed)
    data["cells"] = args.regions * args.sectors
    truth = truth_of(path)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at the start",
        "data": data,
        "repeat": args.repeat,
        "trust": {},
        "trust_local": {},
        "acro": {},
        "engine": {},
        "compare": {},
        "notes": [],
        "acro_version": ACRO_VERSION,
        "acro_load_s": 0.0,
    }
    acro: AcroWorker | None = None
    if not args.skip_acro:
        try:
            acro = AcroWorker(path)
            results["acro_load_s"] = acro.hello["load_s"]
        except (subprocess.CalledProcessError, OSError, RuntimeError) as exc:
            results["notes"].append(f"ACRO could not be installed or run here ({exc}); only the trust's side is shown.")
    limits = Limits(memory_limit="2GB", threads=2, timeout_s=600)
    local = catalog_for(str(path), limits)
    runs: dict[str, dict[str, list[Any]]] = {k: {"acro": [], "trust": [], "local": []} for k in QUERIES}
    last: dict[str, Any] = {}
    with StaticServer(data_dir) as server:
        url = f"{server.url}/claims.parquet"
        catalog = catalog_for(url, limits)
        for i in range(args.repeat + 1):
            for kind, sql in QUERIES.items():
                if kind not in TIMED and i < args.repeat:
                    continue  # the margins table is run once, for the comparison
                if acro is not None:
                    got = acro.ask(f"run {kind}")
                    if "error" in got:
                        results["notes"].append(f"ACRO failed on {kind}: {got['error']}")
                    elif i > 0 or kind not in TIMED:
                        runs[kind]["acro"].append(got["s"])
                timed, protected = trust_once(sql, catalog, limits)
                local_timed, _ = trust_once(sql, local, limits)
                if i > 0 or kind not in TIMED:
                    runs[kind]["trust"].append(timed)
                    runs[kind]["local"].append(local_timed)
                last[kind] = protected
            print(f"round {i} done", flush=True)
        for kind in QUERIES:
            results["trust"][kind] = _median(runs[kind]["trust"]) | {"report": last[kind].report.summary()}
            results["trust_local"][kind] = _median(runs[kind]["local"])
            if runs[kind]["acro"]:
                results["acro"][kind] = statistics.median(runs[kind]["acro"])
        for kind in TIMED:
            variants = dict(alternatives(url, kind))
            variants["governed: two-level, one read (the trust)"] = governed_plan(QUERIES[kind], catalog)[0]
            results["engine"][kind] = time_variants(variants, catalog, limits, args.repeat + 2)
    if acro is not None:
        dump = WORK / "sdc_bench" / "acro_cells.json"
        acro.ask(f"dump {dump}")
        acro.close()
        cells = json.loads(dump.read_text())
        for kind in QUERIES:
            if kind in cells:
                results["compare"][kind] = compare(kind, cells[kind], last[kind], truth)
    results["machine"] += f", {os.getloadavg()[0]:.1f} at the end"
    results["notes"] += [
        "ACRO 1.0 re-runs a suppressed table without the suppressed records, so its margins are the sums of the "
        "shown cells: within that table they do not give a suppressed cell back, but they are not the true totals, "
        "and a true total published in any other output (a one-way table of the same people) gives the cell back "
        "by subtraction: differencing across outputs, which ACRO leaves to a manual check. The trust perturbs every "
        "cell, totals included, each as its own population (the cell key method), so no combination of outputs "
        "gives a hidden cell back exactly; rows of fewer than 10 people never leave its engine.",
        "ACRO counts rows; the trust counts units (people). With one to six rows per person, a cell can have 10 "
        "rows and fewer than 10 people; likewise dominance is judged on each person's summed payments.",
        "Both tools use a threshold of 10, dominance n=2 k=90%, p%=10%, zeros disclosive.",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sdc_vs_acro.json").write_text(json.dumps(results, indent=1, default=str))
    write(results, RESULTS / "sdc_vs_acro.md")
    print(f"wrote {RESULTS / 'sdc_vs_acro.md'}")


if __name__ == "__main__":
    main()
