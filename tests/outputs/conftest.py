"""A trust with users and stored outputs but no departments: the airlock needs nothing else.

``make_output`` stores a small protected table with the cell statuses a test asks for, through
the same ``trust.queries.record`` the pipeline uses, so requests, reviews and bundles see real rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from trust.demo.environment import seed_users
from trust.outputs.output import Output
from trust.sdc.parameters import Parameters
from trust.sdc.report import CellReport, CellStatus, DisclosureReport
from trust.service import Trust

PROJECT = "demo-employment-support"  # ana is its member
OTHER_PROJECT = "demo-dwp-caseload"  # bob's
JUSTIFICATION = "Claimant counts by region for the employment support evaluation report, March 2027."

MakeOutput = Callable[..., Output]


@pytest.fixture
def offline(trust_home: Path) -> Trust:
    t = Trust.open(trust_home)
    seed_users(t)
    return t


def store_output(
    trust: Trust, *, user: str = "ana", project: str = PROJECT, statuses: dict[int, str] | None = None, rows: int = 4
) -> Output:
    """An output of ``rows`` regions with a count; ``statuses`` maps a row to suppressed or review."""
    statuses = statuses or {}
    regions = [f"E1200000{i + 1}" for i in range(rows)]
    counts = [100 + 7 * i for i in range(rows)]
    cells = []
    for r in range(rows):
        status = CellStatus(statuses.get(r, "ok"))
        rule = {"suppressed": "min_units", "review": "negative"}.get(status.value)
        units = 3 if status is CellStatus.SUPPRESSED else counts[r]
        cells.append(
            CellReport(
                r,
                "claimants",
                status,
                rule,
                units,
                f"{units} units" if rule else "",
                # The true value and the value the trust publishes (perturbed), as the pipeline records them.
                {"units": units, "dominance_share": 0.42, "value": counts[r] - 2, "published": counts[r]},
            )
        )
    shown = [None if statuses.get(r) else c for r, c in enumerate(counts)]
    table = pa.table({"region": regions, "claimants": pa.array(shown, pa.int64())})
    report = DisclosureReport(tuple(cells), Parameters())
    decision = {
        "allow": True,
        "deny": [],
        "obligations": {
            "row_filters": [{"dataset": "dwp.uc_claims", "expression": "NOT opted_out"}],
            "column_masks": [],
            "disclosure": Parameters().to_json(),
        },
    }
    out = Output(
        id="out-" + secrets.token_hex(6),
        user=user,
        project=project,
        created="2026-11-21T10:00:00+00:00",
        sql="SELECT region, count(*) AS claimants FROM dwp.uc_claims GROUP BY region",
        executed_sql="SELECT 1",
        table=table,
        suppressed=report.mask(table.column_names, table.num_rows),
        report=report,
        decision=decision,
        fingerprints={"dwp.uc_claims": "f" * 64},
    )
    trust.queries.record(out)
    return out


@pytest.fixture
def make_output(offline: Trust) -> MakeOutput:
    def make(**kwargs: object) -> Output:
        return store_output(offline, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def live_server(offline: Trust) -> Iterator[str]:
    """``offline``'s API on loopback, in a thread of this process."""
    from trust.server.launch import serve_in_thread

    with serve_in_thread(offline) as url:
        yield url
