"""The output checkers' pages in a real browser: Playwright driving Debian's chromium.

``scripts/install-browser.sh`` provides ``/usr/bin/chromium`` (the test setup runs it; these
fixtures run it again if the browser is missing). The tests skip only when that script could not
provide it, and say why. Playwright's own browser downloads are never used.

One ``trust serve`` process per module, over a home pointing at the session's department
servers; the analyst works through ``trust.Client`` against it, the checkers through the pages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

import trust
from trust.config import REPO_ROOT
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.server.launch import launch_trust
from trust.service import Trust

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-browser.sh"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT = "demo-employment-support"
CROSS = """
SELECT u.region, count(DISTINCT u.person_id) AS claimants_in_work, avg(p.gross_pay) AS mean_pay
FROM dwp.uc_claims AS u JOIN hmrc.paye_employments AS p ON u.person_id = p.person_id
WHERE p.tax_year = '2024-25'
GROUP BY u.region ORDER BY u.region
"""
# Some sections have too few businesses (rows withheld, noted for checkers); in one, two businesses
# hold most of the turnover (suppressed for dominance, [c]).
SMALL_AREA = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses "
    "GROUP BY sic_section ORDER BY sic_section"
)
JUSTIFICATION = (
    "Claimants in work and their pay by region, and claimants in the South West by area, for the evaluation."
)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not CHROMIUM.exists():
        result = subprocess.run(["sh", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
        if not CHROMIUM.exists():
            why = (result.stderr or result.stdout).strip().splitlines()[-3:]
            pytest.skip(
                f"Debian's chromium is not at {CHROMIUM} and scripts/install-browser.sh could not install "
                f"it (exit {result.returncode}): {' | '.join(why)}"
            )
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Airlock:
    home: Path
    url: str
    cross: str = ""  # an output with every cell ok
    small: str = ""  # an output with suppressed cells
    clients: list[trust.Client] = field(default_factory=list)

    def trust(self) -> Trust:
        """The server's state, read in this process (a fresh view each time)."""
        return Trust.open(self.home)

    def token(self, user: str) -> str:
        return self.trust().access.issue_token(user, label="browser tests").secret

    def client(self, user: str) -> trust.Client:
        c = trust.Client(self.url, token=self.token(user), project=PROJECT, progress=False)
        self.clients.append(c)
        return c


@pytest.fixture(scope="module")
def airlock(departments: DepartmentServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airlock]:
    home = tmp_path_factory.mktemp("airlock-home")
    configure_home(home, departments.endpoints)
    t = Trust.open(home)
    seed_users(t)
    t.access.add_user(
        "ana", ("analyst", "output_checker"), "DWP"
    )  # a member who also checks: she must not check her own
    with launch_trust(home, workers=2) as server:
        stack = Airlock(home, server.url)
        ana = stack.client("ana")
        stack.cross, stack.small = ana.sql(CROSS).id, ana.sql(SMALL_AREA).id
        yield stack
        for c in stack.clients:
            c.close()


def sign_in(browser: Browser, url: str, token: str, *, landing: str = "Requests waiting for review") -> Page:
    """A fresh browser context signed in to the pages with ``token``; on the queue page (a checker's) or
    the applications page (a data owner's)."""
    page = browser.new_context(base_url=url).new_page()
    page.goto("/checker/")
    expect(page.get_by_role("heading", name="Sign in to check outputs")).to_be_visible()
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=landing)).to_be_visible()
    return page


def decide(page: Page, output_id: str, decision: str, comment: str = "") -> None:
    group = page.get_by_role("group", name=f"Decision on output {output_id}")
    group.get_by_label(decision, exact=True).check()
    if comment:
        group.get_by_label("Comment for the analyst").fill(comment)
