"""Governed queries at scale, side by side with plain DuckDB and with the yardstick (issue 14).

Data: the demo's ``dwp.uc_claims`` and ``hmrc.paye_employments``, every registered column, grown to
1M, 10M and 10M x 30M rows by drawing the demo's own rows at random (so values, roles and
correlations are the demo's) and giving them new people: a third as many people as claim rows, each
with about three PAYE rows. The files (1M rows each) are served over HTTP by a department server in
this process that counts the bytes it sends, and registered in a catalogue of their own.

Queries:

- **Q1**: claimants by area: ``la_code, count(*), sum(award_amount)`` over the claims;
- **Q2**: people in work by region: claims joined to PAYE on the person, ``count(DISTINCT person)``
  and ``sum(gross_pay)`` by region.

Three variants, each run in a fresh process (so its peak memory is its own), interleaved round by
round so machine load affects them alike:

- **plain**: DuckDB on the analyst's SQL over the same files, in the same sandbox (httpfs settings,
  memory limit, threads);
- **yardstick**: plain DuckDB computing by hand the per-cell statistics the protection uses: per
  person subtotals, then per cell the analyst's values, the distinct people, the ten largest
  contributions, the non-zero contributors, whether any is negative, the cell key (the people's
  keyed record hashes summed) and the largest contributor's key;
- **governed**: the whole trust, from SQL text to the stored output (parse, policy, rewrite,
  engine, disclosure control, audit), through an embedded session; its stage times come with it.

It also runs the demo's everyday queries (demo scale, the four departments' servers) plain and
governed. Results: medians, ratios, peak memory (the process's maximum resident set), and bytes the
server sent against the column chunks the query needs, in ``benchmarks/results/scale.md``.

    .venv/bin/python benchmarks/scale.py                        # all sizes, 3 rounds (about 40 minutes)
    .venv/bin/python benchmarks/scale.py --sizes 1M --rounds 2  # a quick look
    .venv/bin/python benchmarks/scale.py --sizes "" --rounds 5  # the demo's queries only (the rest kept)
    .venv/bin/python benchmarks/scale.py --spark --sizes 1M,10M --rounds 2  # the Spark section (issue 15)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import yaml  # noqa: E402

from trust.config import REPO_ROOT, write_config  # noqa: E402

WORK = REPO_ROOT / "benchmarks" / ".work" / "scale"
RESULTS = REPO_ROOT / "benchmarks" / "results"
PROJECT = "demo-employment-support"
PART_ROWS = 1_000_000
SIZES = {"1M": (1_000_000, 3_000_000), "10M": (10_000_000, 3_000_000), "10Mx30M": (10_000_000, 30_000_000)}
QUERIES = {
    "Q1": "SELECT la_code, count(*) AS claimants, sum(award_amount) AS awards FROM dwp.uc_claims GROUP BY la_code",
    "Q2": (
        "SELECT u.region, count(DISTINCT u.person_id) AS people, sum(p.gross_pay) AS pay "
        "FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY u.region"
    ),
}
WHICH = {"1M": ("Q1", "Q2"), "10M": ("Q1",), "10Mx30M": ("Q2",)}  # Q2 at 10M joins 10M claims to 3M PAYE rows too
# A query over the same datasets that reads almost nothing (row groups skipped by their statistics): a
# trust that has been serving has its policy compiled, its modules loaded and sandboxes ready for them.
WARM = {
    "Q1": "SELECT region, count(*) AS n FROM dwp.uc_claims WHERE la_code = 'E09000001' GROUP BY region",
    "Q2": (
        "SELECT u.region, count(*) AS n FROM dwp.uc_claims u JOIN hmrc.paye_employments p "
        "ON u.person_id = p.person_id WHERE u.la_code = 'E09000001' AND p.employer_id = 'Z' GROUP BY 1"
    ),
}
KEY_SECRET = "scale-benchmark-secret"
# The policy's row filters for the benchmark's project (rule dwp.opt_out): plain and yardstick read the
# same rows as the governed query. (Its column masks, HMRC's top-coding, cost next to nothing.)
ROW_FILTERS = {"dwp.uc_claims": "NOT opted_out"}
READY = "ready to run"


def query_of(sql: str) -> str:
    return next((q for q, text in QUERIES.items() if text == sql), "Q1")


RECORD_KEY = "CAST(('0x' || SUBSTRING(SHA256($trust_key || ':' || CAST(person_id AS VARCHAR)), 1, 16)) AS UBIGINT)"
YARDSTICK = {
    "Q1": f"""
        WITH per_person AS (
            SELECT la_code, person_id, count(*) AS n, sum(award_amount) AS s
            FROM dwp.uc_claims GROUP BY la_code, person_id)
        SELECT la_code, sum(n) AS claimants, sum(s) AS awards, count(*) AS people,
               max(abs(s), 10) AS top, count(*) FILTER (WHERE s <> 0) AS contributors, bool_or(s < 0) AS negative,
               sum({RECORD_KEY}) % 4294967296 AS cell_key, arg_max({RECORD_KEY}, abs(s)) AS top_key
        FROM per_person GROUP BY la_code""",
    # By hand as a careful analyst would write it: PAYE per person first, then joined (one row per person
    # instead of every claim row times every PAYE row).
    "Q2": f"""
        WITH pay AS (SELECT person_id, sum(gross_pay) AS s FROM hmrc.paye_employments GROUP BY person_id),
        per_person AS (
            SELECT u.region, u.person_id, sum(p.s) AS s
            FROM dwp.uc_claims u JOIN pay p ON u.person_id = p.person_id
            GROUP BY u.region, u.person_id)
        SELECT region, count(*) AS people, sum(s) AS pay,
               max(abs(s), 10) AS top, count(*) FILTER (WHERE s <> 0) AS contributors, bool_or(s < 0) AS negative,
               sum({RECORD_KEY}) % 4294967296 AS cell_key, arg_max({RECORD_KEY}, abs(s)) AS top_key
        FROM per_person GROUP BY region""",
}


# -- data ----------------------------------------------------------------------------------------------
def seed_tables() -> dict[str, pa.Table]:
    from trust.demo.environment import DEFAULT_SEED
    from trust.demo.generate import ensure_generated

    seed = WORK / "seed"
    ensure_generated(seed, scale=1.0, seed=DEFAULT_SEED)
    return {
        "uc_claims": pa.concat_tables(pq.read_table(p) for p in sorted((seed / "dwp" / "uc_claims").glob("*.parquet"))),
        "paye_employments": pa.concat_tables(
            pq.read_table(p) for p in sorted((seed / "hmrc" / "paye_employments").glob("*.parquet"))
        ),
    }


def generate(size: str) -> Path:
    """The files of one size under WORK/data/SIZE (made once; a marker says they are complete)."""
    claims, paye = SIZES[size]
    root = WORK / "data" / size
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    seeds = seed_tables()
    rng = np.random.default_rng(20261203)
    people = claims // 3
    for name, rows in (("uc_claims", claims), ("paye_employments", paye)):
        folder = root / ("dwp" if name == "uc_claims" else "hmrc") / name
        folder.mkdir(parents=True)
        seed = seeds[name]
        for part, start in enumerate(range(0, rows, PART_ROWS)):
            n = min(PART_ROWS, rows - start)
            table = seed.take(pa.array(rng.integers(0, seed.num_rows, n)))
            person = rng.integers(0, people, n)
            ids = pa.array(np.char.add("P", np.char.zfill(person.astype(str), 9)))
            table = table.set_column(table.schema.get_field_index("person_id"), "person_id", ids)
            if name == "uc_claims":  # rows of an area together, as an extract often is
                table = table.sort_by([("la_code", "ascending"), ("person_id", "ascending")])
            pq.write_table(table, folder / f"part-{part:04d}.parquet", row_group_size=122_880)
    (root / ".complete").write_text(json.dumps({"claims": claims, "paye": paye, "people": people}))
    return root


def catalog_for(root: Path, url: str) -> Path:
    """A catalogue of the two datasets at ``url``: the repository's registrations, every file named."""
    folder = WORK / "catalog" / root.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for department, dataset, yaml_name in (("dwp", "uc_claims", "dwp.yaml"), ("hmrc", "paye_employments", "hmrc.yaml")):
        raw = yaml.safe_load((REPO_ROOT / "catalog" / yaml_name).read_text())
        entry = next(d for d in raw["datasets"] if d["id"] == f"{department}.{dataset}")
        entry.pop("credentials", None)
        entry["location"] = [
            f"{url}/{department}/{dataset}/{p.name}" for p in sorted((root / department / dataset).glob("*.parquet"))
        ]
        raw["datasets"] = [entry]
        (folder / yaml_name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def needed_bytes(root: Path, query: str) -> int:
    """The compressed size of the column chunks ``query`` reads (every row group), and the footers."""
    columns = {
        "Q1": {
            "uc_claims": {"la_code", "award_amount", "person_id", "opted_out"}
        },  # opted_out: the policy's row filter
        "Q2": {"uc_claims": {"region", "person_id", "opted_out"}, "paye_employments": {"person_id", "gross_pay"}},
    }[query]
    total = 0
    for name, wanted in columns.items():
        for path in sorted(root.glob(f"*/{name}/*.parquet")):
            meta = pq.ParquetFile(path).metadata
            total += meta.serialized_size + 8
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                for c in range(group.num_columns):
                    if group.column(c).path_in_schema in wanted:
                        total += group.column(c).total_compressed_size
    return total


# -- one run, in its own process ----------------------------------------------------------------------
def child(variant: str, home: Path, sql: str) -> dict[str, Any]:
    """Run ``sql`` once as ``variant``; the seconds, the peak memory and (governed) the stages."""
    from trust.catalog import access_for
    from trust.engine.sandbox import open_sandbox
    from trust.service import Trust
    from trust.service.catalogue import engine_limits

    trust = Trust.open(home)
    datasets = list(trust.catalog.bound())
    if variant == "plain-spark":
        return _plain_spark(trust, datasets, sql)
    if variant in ("governed", "governed-spark"):
        from trust.errors import TrustError

        try:  # warm the process (policy compiled, modules loaded) on a small query
            trust.session("ana", PROJECT).sql(WARM["Q1"])
        except TrustError:
            pass
        # A trust that has been serving has sandboxes ready for the datasets analysts use.
        named = {d for d in datasets if re.search(rf"\b{re.escape(d.id)}\b", sql)}
        sandboxes = getattr(trust.queries.engine, "sandboxes", None)  # Spark: its session started by the warm-up
        if sandboxes is not None:
            sandboxes.take(
                access_for(sorted(named, key=lambda d: d.id), trust.config.credentials),
                engine_limits(trust.config, {d.department for d in named}),
                metadata_cache=True,
            ).close()
            deadline = time.monotonic() + 5
            while sandboxes.ready() < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        ready()
        started = time.perf_counter()
        out = trust.queries.run("ana", PROJECT, sql)
        elapsed = time.perf_counter() - started
        stages = dict(out.stats.get("stages", {}))
        rows = out.table.num_rows
    else:
        limits = engine_limits(trust.config, {d.department for d in datasets})
        con = open_sandbox(access_for(datasets, trust.config.credentials), limits)
        for ds in datasets:  # the rows the project may see: the policy's row filters, as the trust applies them
            files = ", ".join(f"'{f.url}'" for f in ds.files)
            where = f" WHERE {ROW_FILTERS[ds.id]}" if ds.id in ROW_FILTERS else ""
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ds.schema_name}")
            con.execute(f"CREATE VIEW {ds.id} AS SELECT * FROM read_parquet([{files}]){where}")
        ready()
        started = time.perf_counter()  # the query alone: the connection is open and the views made
        table = con.execute(sql, {"trust_key": KEY_SECRET} if "$trust_key" in sql else None).to_arrow_table()
        elapsed = time.perf_counter() - started
        con.close()
        stages, rows = {}, table.num_rows
    peak = _peak_rss()
    return {"elapsed_s": elapsed, "peak_bytes": peak, "stages": stages, "rows": rows}


def _plain_spark(trust: Any, datasets: list[Any], sql: str) -> dict[str, Any]:
    """Plain Spark SQL on the same files: the same locked session, each dataset a view through the same
    in-place reader (the only way Spark reads HTTP here), declaring only the columns the query reads,
    the policy's row filter applied as for DuckDB."""
    import sqlglot
    from sqlglot import exp

    from trust.engine.spark import session as spark_session
    from trust.engine.spark import source
    from trust.engine.spark.engine import settings_from

    spark = spark_session.get(settings_from(trust.config)).newSession()
    tree = sqlglot.parse_one(sql, read="duckdb")
    used = {c.name.lower() for c in tree.find_all(exp.Column)}
    text = sql
    for ds in datasets:
        if ds.id not in sql:
            continue
        where = ROW_FILTERS.get(ds.id)
        wanted = used | ({"opted_out"} if where else set())
        columns = [(c.name, source.spark_type(c.type or "VARCHAR")) for c in ds.columns if c.name.lower() in wanted]
        name = ds.id.replace(".", "_")
        frame = source.read(spark, [f.url for f in ds.files], columns, None, timeout_s=120.0)
        frame.createOrReplaceTempView(name + "_all")
        spark.sql(f"SELECT * FROM {name}_all" + (f" WHERE {where}" if where else "")).createOrReplaceTempView(name)
        text = text.replace(ds.id, name)
    spark.sql("SELECT 1").collect()  # the session's Python workers started, as in a serving trust
    ready()
    started = time.perf_counter()
    table = spark.sql(text).toArrow()
    elapsed = time.perf_counter() - started
    return {"elapsed_s": elapsed, "peak_bytes": _peak_rss(), "stages": {}, "rows": table.num_rows}


def _hwm(pid: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _peak_rss() -> int:
    """The peak resident set (VmHWM: reset at exec, unlike ru_maxrss, which a child inherits) of this
    process and its descendants alive now (Spark's JVM and Python workers), summed."""
    children: dict[str, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(fields[1], []).append(stat.parent.name)
    total, todo = 0, [str(os.getpid())]
    while todo:
        pid = todo.pop()
        total += _hwm(pid)
        todo.extend(children.get(pid, []))
    return total or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def ready() -> None:
    """In a child: say the set-up is done, and wait for the parent to start the clock (and the byte count)."""
    print(READY, flush=True)
    sys.stdin.readline()


def run_child(variant: str, home: Path, sql: str, timeout: float, on_ready: Any = None) -> dict[str, Any]:
    """One run in a fresh process; ``on_ready`` is called when its set-up is done, just before the query."""
    env = {**os.environ, "TRUST_HOME": str(home)}
    if variant.endswith("-spark"):
        env["TRUST_ENGINE"] = "spark"
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", variant, "--home", str(home), "--sql", sql],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        lines = []
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                if line.strip() == READY:
                    if on_ready is not None:
                        on_ready()
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                else:
                    lines.append(line)
            proc.wait()
        finally:
            timer.cancel()
        if proc.returncode != 0 or not lines:
            err.seek(0)
            tail = (err.read() or "".join(lines)).strip().splitlines()[-3:]
            return {"error": " / ".join(tail) or f"exit {proc.returncode}"}
    return dict(json.loads(lines[-1]))


@dataclass
class Measured:
    runs: dict[str, list[dict[str, Any]]]
    bytes_sent: int | None = None
    bytes_needed: int | None = None

    def median(self, variant: str, key: str = "elapsed_s") -> float | None:
        ok = [r[key] for r in self.runs[variant] if "error" not in r]
        return statistics.median(ok) if ok else None

    def errors(self, variant: str) -> list[str]:
        return [r["error"] for r in self.runs[variant] if "error" in r]


def measure_size(size: str, rounds: int, timeout: float, *, spark: bool = False) -> dict[str, Measured]:
    from trust.demo.servers import _Counter, _StaticServer

    root = generate(size)
    counter = _Counter()
    server = _StaticServer(root, counter, "127.0.0.1", 0)
    server.start()
    try:
        home = Path(tempfile.mkdtemp(prefix=f"scale-{size}-"))
        write_config(
            home,
            locations={},
            credentials={},
            settings={
                "catalog_dir": str(catalog_for(root, server.url)),
                "query_timeout_s": timeout,
                "department_timeout_s": 120.0,
            },
        )
        from trust.demo.environment import seed_users
        from trust.service import Trust

        seed_users(Trust.open(home))
        results: dict[str, Measured] = {}
        for query in ("Q1", "Q2") if spark else WHICH[size]:
            sqls = (
                {"plain-spark": QUERIES[query], "governed-spark": QUERIES[query], "governed": QUERIES[query]}
                if spark
                else {"plain": QUERIES[query], "yardstick": YARDSTICK[query], "governed": QUERIES[query]}
            )
            measured = Measured({v: [] for v in sqls})
            for r in range(rounds):
                order = list(sqls) if r % 2 == 0 else list(reversed(sqls))
                for variant in order:
                    outcome = run_child(variant, home, sqls[variant], timeout * 1.5, on_ready=counter.reset)
                    if "error" not in outcome:
                        outcome["bytes_sent"] = counter.snapshot()[1]
                    if variant == "governed" and "error" not in outcome:
                        measured.bytes_sent = outcome["bytes_sent"]
                    measured.runs[variant].append(outcome)
                    print(f"  {size} {query} {variant}: {outcome.get('elapsed_s', outcome.get('error'))}", flush=True)
            measured.bytes_needed = needed_bytes(root, query)
            results[query] = measured
        return results
    finally:
        server.request_stop()
        server.join()


def measure_demo(rounds: int) -> dict[str, Measured]:
    from trust.demo.environment import DEFAULT_SEED, demo_environment
    from trust.demo.walkthrough import CROSS_DEPARTMENT, SMALL_AREA, SOUTH_WEST, TURNOVER

    everyday = {
        "cross-department earnings by region": CROSS_DEPARTMENT,
        "claimants by area, London and South West": SMALL_AREA,
        "turnover by industry": TURNOVER,
        "South West claimants": SOUTH_WEST,
        "claimants by region and sex": "SELECT region, sex, count(*) AS n FROM dwp.uc_claims GROUP BY 1, 2",
        "learners by area": "SELECT la_code, count(*) AS n FROM dfe.learners GROUP BY 1",
    }
    results: dict[str, Measured] = {}
    with demo_environment(
        Path(tempfile.mkdtemp(prefix="scale-demo-")), WORK / "demo", scale=1.0, seed=DEFAULT_SEED
    ) as env:
        # A trust that has been serving: one process, its sandboxes ready. Each governed run is decided
        # afresh (the policy's cache of identical inputs is emptied first), from SQL text to the stored output.
        from trust.catalog import access_for
        from trust.engine.sandbox import open_sandbox
        from trust.service import Trust
        from trust.service.catalogue import engine_limits

        trust = Trust.open(env.home)
        datasets = list(trust.catalog.bound())
        for r in range(rounds + 1):  # round 0 warms the process and is not counted
            for name, sql in everyday.items():
                measured = results.setdefault(name, Measured({"plain": [], "fresh": [], "governed": []}))
                named = [d for d in datasets if re.search(rf"\b{re.escape(d.id)}\b", sql)]
                for variant in ("plain", "governed") if r % 2 == 0 else ("governed", "plain"):
                    if variant == "governed":
                        cache = getattr(trust.policy, "_cache", None)
                        if cache is not None:
                            cache.clear()
                        started = time.perf_counter()
                        out = trust.queries.run("ana", PROJECT, sql)
                        outcome = {"elapsed_s": time.perf_counter() - started, "stages": out.stats.get("stages", {})}
                    else:  # a fresh sandbox as the trust's, the datasets as views (with the policy's row
                        # filters), then the query: "fresh" is the whole, "plain" the query alone
                        started = time.perf_counter()
                        con = open_sandbox(
                            access_for(named, trust.config.credentials),
                            engine_limits(trust.config, {d.department for d in named}),
                        )
                        for ds in named:
                            files = ", ".join(f"'{f.url}'" for f in ds.files)
                            where = f" WHERE {ROW_FILTERS[ds.id]}" if ds.id in ROW_FILTERS else ""
                            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ds.schema_name}")
                            con.execute(f"CREATE VIEW {ds.id} AS SELECT * FROM read_parquet([{files}]){where}")
                        ready_at = time.perf_counter()
                        con.execute(sql).to_arrow_table()
                        done = time.perf_counter()
                        con.close()
                        outcome = {"elapsed_s": done - ready_at}
                        if r > 0:
                            measured.runs["fresh"].append({"elapsed_s": done - started})
                    if r > 0:
                        measured.runs[variant].append(outcome)
        for name, measured in results.items():
            print(f"  demo {name}: plain {measured.median('plain')} governed {measured.median('governed')}", flush=True)
    return results


# -- the report ----------------------------------------------------------------------------------------
def _s(x: float | None) -> str:
    return "failed" if x is None else f"{x:.2f} s"


def _ms(x: float | None) -> str:
    return "failed" if x is None else f"{x * 1000:.0f} ms"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def _gib(x: float | None) -> str:
    return "-" if x is None else f"{x / 2**30:.2f} GiB"


def write(scaled: dict[str, dict[str, Measured]], demo: dict[str, Measured], machine: str, rounds: int) -> str:
    lines = [
        "# Governed queries at scale",
        "",
        f"Generated by `benchmarks/scale.py` on {machine}; {rounds} interleaved rounds, each run a fresh process, "
        "medians. The departments' files over loopback HTTP; DuckDB's default 2 GB memory limit and 2 threads in "
        "every variant. *yardstick*: plain DuckDB computing by hand the per-cell statistics the protection uses "
        "(see the module's docstring); *governed*: the whole trust from SQL text to the stored output.",
        "",
        "Plain and yardstick read the rows the policy lets the project see (its opt-out filter), as the governed "
        "query does; their times are the query alone, on a connection already open. *bytes / needed*: what the "
        "department server sent for the governed query against the compressed column chunks it needs (the plain "
        "query's in brackets).",
        "",
        "| query | rows | plain | yardstick | governed | governed / yardstick | governed / plain | peak: plain | peak: yardstick | peak: governed | peak governed / plain | bytes / needed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stage_lines = []
    for size, queries in scaled.items():
        for query, m in queries.items():
            p, y, g = m.median("plain"), m.median("yardstick"), m.median("governed")
            pp, yp, gp = (m.median(v, "peak_bytes") for v in ("plain", "yardstick", "governed"))
            plain_sent = m.median("plain", "bytes_sent")
            sent = f"{m.bytes_sent / m.bytes_needed:.3f}" if m.bytes_sent and m.bytes_needed else "-"
            if plain_sent and m.bytes_needed:
                sent += f" ({plain_sent / m.bytes_needed:.3f})"
            lines.append(
                f"| {query} | {size} | {_s(p)} | {_s(y)} | {_s(g)} | {_ratio(g, y)} | {_ratio(g, p)} | {_gib(pp)} | "
                f"{_gib(yp)} | {_gib(gp)} | {_ratio(gp, pp)} | {sent} |"
            )
            ok = [r["stages"] for r in m.runs["governed"] if "error" not in r and r.get("stages")]
            if ok:
                keys = list(ok[0])
                stage_lines.append(
                    f"| {query} | {size} | "
                    + " | ".join(f"{statistics.median(s.get(k, 0) for s in ok):.3f}" for k in keys)
                    + " |"
                )
                stage_keys = keys
            for variant in m.runs:
                for e in m.errors(variant)[:1]:
                    lines.append(f"|  | {variant} failed: {e[-200:]} |  |  |  |  |  |  |  |  |  |  |")
    if stage_lines:
        lines += ["", "Where the governed time goes (seconds, medians):", "",
                  "| query | rows | " + " | ".join(stage_keys) + " |", "|---|---|" + "---:|" * len(stage_keys), *stage_lines]  # fmt: skip
    lines += [
        "",
        "## The demo's everyday queries",
        "",
        "One long-lived process, as a serving trust (round 0 not counted), the four departments' servers at demo "
        "scale. *plain*: the query alone on an open connection; *plain, fresh*: a fresh sandbox, the views and the "
        "query, as the trust must do for each query; *governed*: SQL text to stored output, the policy decided "
        "afresh each time (its cache emptied).",
        "",
        "| query | plain | plain, fresh | governed | governed / plain | governed / plain, fresh | check | engine | protect | record |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in demo.items():
        p, f, g = m.median("plain"), m.median("fresh"), m.median("governed")
        st = [r.get("stages", {}) for r in m.runs["governed"] if "error" not in r]
        cols = [
            f"{statistics.median(x.get(k, 0) for x in st) * 1000:.0f} ms" if st else "-"
            for k in ("check_s", "engine_s", "protect_s", "record_s")
        ]
        lines.append(
            f"| {name} | {_ms(p)} | {_ms(f)} | {_ms(g)} | {_ratio(g, p)} | {_ratio(g, f)} | " + " | ".join(cols) + " |"
        )
    text = "\n".join(lines) + "\n"
    old = RESULTS / "scale.md"
    spark_section = old.read_text().split(SPARK_SECTION, 1) if old.exists() else []
    if len(spark_section) == 2:
        text = text.rstrip("\n") + "\n" + SPARK_SECTION + spark_section[1]
    if not scaled and old.exists():  # --sizes "": the demo's section anew, the rest as it was
        kept = old.read_text().split("\n## The demo's everyday queries")[0]
        text = kept + text[text.index("\n## The demo's everyday queries") :]
    RESULTS.mkdir(parents=True, exist_ok=True)
    old.write_text(text)
    return text


SPARK_SECTION = "\n## On Apache Spark"


def write_spark(scaled: dict[str, dict[str, Measured]], machine: str, rounds: int) -> str:
    """The Spark section of scale.md (replacing the one there, the rest kept)."""
    lines = [
        SPARK_SECTION.strip(),
        "",
        f"`benchmarks/scale.py --spark` on {machine}; interleaved rounds (per row), each run a fresh process, medians. "
        "Spark 4.3 in local mode (`local[2]`, 2 GB driver), the same files over loopback HTTP read in place by the "
        "trust's data source. *plain Spark*: Spark SQL on the analyst's query over the same files (views through "
        "the same reader, only the columns the query reads, the policy's opt-out filter), the session and its "
        "Python workers started; *governed Spark*: the whole trust on the Spark engine, SQL text to stored output; "
        "*governed DuckDB*: the same on the default engine. Peak memory is the process tree's (the JVM and "
        "Python workers included).",
        "",
        "| query | rows | rounds | plain Spark | governed Spark | governed Spark / plain Spark | governed DuckDB | governed Spark / governed DuckDB | peak: plain Spark | peak: governed Spark |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    old = RESULTS / "scale.md"
    text = old.read_text() if old.exists() else ""
    earlier = text.split(SPARK_SECTION, 1)[1].splitlines() if SPARK_SECTION in text else []
    for line in earlier:  # sizes not measured in this run keep their rows
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1] in ("Q1", "Q2") and cells[2] not in scaled:
            lines.append(line)
    for size, queries in scaled.items():
        for query, m in queries.items():
            p, g, d = m.median("plain-spark"), m.median("governed-spark"), m.median("governed")
            pp, gp = m.median("plain-spark", "peak_bytes"), m.median("governed-spark", "peak_bytes")
            lines.append(
                f"| {query} | {size} | {rounds} | {_s(p)} | {_s(g)} | {_ratio(g, p)} | {_s(d)} | {_ratio(g, d)} | "
                f"{_gib(pp)} | {_gib(gp)} |"
            )
            for variant in m.runs:
                for e in m.errors(variant)[:1]:
                    lines.append(f"|  | {variant} failed: {e[-200:]} |  |  |  |  |  |  |  |  |")
    section = "\n".join(lines) + "\n"
    text = text.split(SPARK_SECTION)[0].rstrip("\n") + "\n\n" + section
    RESULTS.mkdir(parents=True, exist_ok=True)
    old.write_text(text)
    return section  # rows of sizes not run now are kept as they were (their rounds column says how many)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1M,10M,10Mx30M")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--spark", action="store_true", help="Q1 and Q2 on Spark (plain and governed) and DuckDB")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--home", help=argparse.SUPPRESS)
    ap.add_argument("--sql", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.home), args.sql)))
        return
    machine = f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs"
    if args.spark:
        sizes = [s for s in args.sizes.split(",") if s in ("1M", "10M")]
        print(write_spark({size: measure_size(size, args.rounds, args.timeout, spark=True) for size in sizes}, machine,
                          args.rounds))  # fmt: skip
        return
    scaled = {size: measure_size(size, args.rounds, args.timeout) for size in args.sizes.split(",") if size}
    demo = {} if args.no_demo else measure_demo(args.rounds)
    print(write(scaled, demo, machine, args.rounds))


if __name__ == "__main__":
    main()
