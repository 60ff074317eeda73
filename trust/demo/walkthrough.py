"""``trust demo``: analysts' SQL over four departments' data, in place, through the whole trust."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from trust.demo.environment import DEFAULT_SEED, demo_environment
from trust.errors import TrustError
from trust.outputs.render import render_text

CROSS_DEPARTMENT = """\
SELECT u.region,
       count(DISTINCT u.person_id) AS claimants_in_work,
       sum(p.gross_pay)            AS total_gross_pay,
       avg(p.gross_pay)            AS mean_monthly_pay
FROM dwp.uc_claims AS u
JOIN hmrc.paye_employments AS p ON u.person_id = p.person_id
WHERE p.tax_year = '2024-25'
GROUP BY u.region
ORDER BY u.region"""

DENIED = "SELECT region, count(*) AS claimants, sum(award_amount) AS awards FROM dwp.uc_claims u JOIN hmrc.paye_employments p ON u.person_id = p.person_id GROUP BY region"
REJECTED = "SELECT nino, award_amount FROM dwp.uc_claims WHERE la_code = 'E06000053'"
TURNOVER = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses "
    "GROUP BY sic_section ORDER BY sic_section"
)
SOUTH_WEST = "SELECT count(*) AS claimants FROM dwp.uc_claims WHERE region = 'E12000009'"
SMALL_AREA = """\
SELECT la_code, count(*) AS claimants, avg(award_amount) AS mean_award
FROM dwp.uc_claims
WHERE region IN ('E12000009', 'E12000007')
GROUP BY la_code
ORDER BY la_code"""


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB"


def run_demo(
    home: Path, data_dir: Path, *, scale: float = 1.0, seed: int = DEFAULT_SEED, out: TextIO = sys.stdout
) -> None:
    say = lambda text="": print(text, file=out, flush=True)  # noqa: E731
    started = time.perf_counter()
    with demo_environment(home, data_dir, scale=scale, seed=seed) as env:
        say("== Four departments serve their own data (nothing is copied into the trust)")
        for name, url in env.endpoints.as_variables().items():
            say(f"   {name:<18} {url}")
        trust = env.trust()
        env.servers.reset_counters()
        catalog = trust.catalog.bound()
        say("\n== The catalogue (schemas, rows and sizes read from Parquet footers only)")
        say(
            render_text(
                ["dataset", "department", "rows", "size", "columns", "location"],
                [(d.id, d.department, d.row_count, _mb(d.size_bytes), len(d.columns), d.location[0]) for d in catalog],
            )
        )
        total = sum(d.size_bytes for d in catalog)

        say("\n== ana (project demo-employment-support): UC claimants' PAYE earnings by region")
        say(CROSS_DEPARTMENT)
        out1 = trust.session("ana", "demo-employment-support").sql(CROSS_DEPARTMENT)
        say(str(out1))

        say("\n== bob (project demo-dwp-caseload, DWP data only) asks for HMRC earnings")
        try:
            trust.session("bob", "demo-dwp-caseload").sql(DENIED)
        except TrustError as exc:
            say(f"   refused: {exc}")

        say("\n== bob works for Greater Manchester: the policy filters every DWP row to his own areas")
        area = "SELECT la_code, count(*) AS claimants FROM dwp.uc_claims GROUP BY la_code ORDER BY la_code"
        say(area)
        say(str(trust.session("bob", "demo-dwp-caseload").sql(area)))

        say("\n== ana asks for National Insurance numbers")
        try:
            trust.session("ana", "demo-employment-support").sql(REJECTED)
        except TrustError as exc:
            say(f"   refused: {exc}")

        say("\n== ana: UC claimants by local authority in London and the South West (small areas)")
        say(SMALL_AREA)
        out2 = trust.session("ana", "demo-employment-support").sql(SMALL_AREA)
        say(str(out2))
        say("   Isles of Scilly (3 claimants) and the City of London (7) are withheld: their rows never leave the")
        say("   engine, so a row's presence tells nothing about a small group. Every number is perturbed by the")
        say("   cell key method: the same people always get the same published number, whoever asks, however.")

        ana = trust.session("ana", "demo-employment-support")
        say("\n== ana: business turnover by industry (DESNZ); in some industries two businesses hold most of it")
        say(TURNOVER)
        out3 = ana.sql(TURNOVER)
        say(str(out3))
        checked = trust.queries.output("carol", out3.id)  # the output checker's view, inside the trust
        for c in checked.report.cells:
            if c.hidden:
                section = checked.table.column("sic_section")[c.row].as_py()
                say(f"   {section} {c.column}: {c.status.value} ({c.rule}); the checker sees: {c.detail}")

        say("\n== ana: claimants in the South West, then the same less the Isles of Scilly")
        first = ana.sql(SOUTH_WEST)
        say(f"{SOUTH_WEST}\n{first}")
        less = SOUTH_WEST + " AND la_code <> 'E06000053'"
        second = ana.sql(less)
        say(f"{less}\n{second}")
        again = ana.sql(less.replace("count(*) AS claimants", "count(DISTINCT person_id) AS people"))
        difference = first.rows()[0][0] - second.rows()[0][0]
        say(f"   The difference, {difference}, is not Scilly's 3 claimants: each population has its own noise. Asked")
        say(
            f"   again in other words the answer is the same ({again.rows()[0][0]:,}): there is nothing to average away."
        )

        served = env.servers.bytes_served()
        fetched = sum(served.values())
        say("\n== Bytes the departments' servers sent (counted by the servers themselves)")
        for dept, n in served.items():
            say(f"   {dept:<6} {_mb(n)}")
        say(
            f"   total  {_mb(fetched)} of {_mb(total)} held ({100 * fetched / total:.1f}%): only footers and needed column chunks"
        )
        ok, summary = trust.audit.verify()
        say(f"\n== Audit: {summary}")
    say(f"\nDemo finished in {time.perf_counter() - started:.1f} s.")
