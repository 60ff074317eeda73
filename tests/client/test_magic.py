"""``%load_ext trust`` in a real IPython shell, against a trust server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import trust
from trust.client.display import error_html, output_html
from trust.errors import PolicyDenied

# Two businesses hold most of one section's turnover: a row shown with a [c] cell.
SMALL_AREA = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover FROM desnz.businesses GROUP BY sic_section"
)


@pytest.fixture
def shell(live_url: str, ana_token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("TRUST_URL", live_url)
    monkeypatch.setenv("TRUST_TOKEN", ana_token)
    monkeypatch.setenv("TRUST_PROJECT", "demo-employment-support")
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "trust")
    yield ip
    ip.run_line_magic("unload_ext", "trust")
    InteractiveShell.clear_instance()


def _html(cap: object) -> str:
    return "".join(o.data.get("text/html", "") for o in cap.outputs)  # type: ignore[attr-defined]


def test_a_cell_shows_the_protected_table(shell: InteractiveShell):
    with capture_output() as cap:
        result = shell.run_cell_magic("trust", "-o small", SMALL_AREA)
    assert result is None
    html = _html(cap)
    assert 'class="trust-suppressed"' in html and "[c]" in html
    assert "cells:" in html and "suppressed" in html  # the one-line disclosure summary
    assert "desnz.businesses (" in html and "rows scanned" in html
    out = shell.user_ns["small"]
    assert isinstance(out, trust.Output) and out.project == "demo-employment-support"


def test_a_denial_is_a_message_not_a_traceback(shell: InteractiveShell):
    with capture_output() as cap:
        result = shell.run_cell("%%trust -p demo-dwp-caseload\nSELECT count(*) AS n FROM hmrc.paye_employments")
    assert result.success and result.error_in_exec is None
    html = _html(cap)
    assert "Refused by policy" in html and "trust." in html
    assert "Traceback" not in cap.stdout + cap.stderr + html


def test_catalogue_browsing(shell: InteractiveShell):
    with capture_output() as cap:
        shell.run_line_magic("trust_catalog", "")
    assert "dwp.uc_claims" in _html(cap) and "usable by your projects" in _html(cap)
    with capture_output() as cap:
        shell.run_line_magic("trust_catalog", "dwp.uc_claims")
    assert "direct_identifier" in _html(cap) and "award_amount" in _html(cap)
    with capture_output() as cap:
        shell.run_line_magic("trust_catalog", "dwp.uc_claimz")
    assert "Did you mean" in _html(cap)
    with capture_output() as cap:
        shell.run_line_magic("trust_outputs", "")
    assert "<table>" in _html(cap)


def test_connecting_to_an_existing_client(shell: InteractiveShell, live_url: str, ana_token: str):
    shell.user_ns["c"] = trust.Client(live_url, token=ana_token)
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", "c --project demo-employment-support")
    assert "connected to" in _html(cap) and "<b>ana</b>" in _html(cap)
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", f"{live_url} --token lmdt_wrong")
    assert "Authentication required" in _html(cap)


def test_html_is_escaped_and_denials_list_each_rule():
    html = error_html(
        PolicyDenied([{"rule": "a.rule", "message": "<script>x</script>"}, {"rule": "b.rule", "message": "second"}])
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<li>") == 2


def test_output_html_matches_the_output(ana):
    out = ana.sql(SMALL_AREA)
    html = output_html(out)
    assert html.count("[c]") == sum(v == "[c]" for row in out.rows() for v in row)
    assert out.report.summary() in html
