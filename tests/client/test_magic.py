"""``%load_ext trust`` in a real IPython shell, against a trust server on loopback."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import trust
from trust.client.display import error_html, output_html
from trust.client.magic import as_magic_error, in_magic_terms
from trust.config import REPO_ROOT
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


# -- %trust_connect ------------------------------------------------------------------------------
def test_connecting_to_a_missing_variable_says_how_to_make_one(shell: InteractiveShell, live_url: str, ana_token: str):
    assert "client" not in shell.user_ns
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", "client --project demo-employment-support")
    html = _html(cap)
    assert (
        "No variable `client` in this notebook: create one with `client = trust.Client(...)` "
        "or give the server&#x27;s URL: `%trust_connect https://...`"
    ) in html
    assert "could not be reached" not in html and "Traceback" not in cap.stdout + cap.stderr
    for target, expected in [
        ("localhost:8400", "`%trust_connect http://localhost:8400`"),
        ("--url trust.example", "`%trust_connect http://trust.example`"),
    ]:
        with capture_output() as cap:
            shell.run_line_magic("trust_connect", target)
        assert "neither a variable nor a URL" in _html(cap) and expected in _html(cap)
    shell.user_ns["client"] = 42
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", "client")
    assert "`client` is a int, not a `trust.Client`" in _html(cap)
    shell.user_ns["client"] = trust.Client(live_url, token=ana_token)
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", "client --project demo-health-research  # as the docs write it")
    assert "connected to" in _html(cap) and "project demo-health-research" in _html(cap)
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", "--project demo-employment-support")  # same server, another project
    assert "project demo-employment-support" in _html(cap)
    assert shell.user_ns["client"].project == "demo-employment-support"
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", "clinet")  # a typo keeps the connection there is
    assert "No variable `clinet` in this notebook" in _html(cap)
    assert shell.magics_manager.registry["TrustMagics"].client is shell.user_ns["client"]


# -- hints in the magics' own terms --------------------------------------------------------------
PYTHON_OR_CLI = ("client.", "project=", "Client(", "`trust catalog")


def test_remedies_are_worded_as_magics(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TRUST_PROJECT")
    cases = [
        ("%%trust\nSELECT count(*) AS n FROM dwp.uc_claims", ["`%%trust -p PROJECT`", "demo-employment-support"]),
        ("%trust_catalog dwp.uc_claimz", ["Did you mean", "Run `%trust_catalog` to see"]),
        (
            "%%trust -p demo-employment-support\nSELECT regionz, count(*) AS n FROM dwp.uc_claims GROUP BY regionz",
            ["check `%trust_catalog DATASET`"],
        ),
    ]
    for cell, expected in cases:
        with capture_output() as cap:
            shell.run_cell(cell)
        html = _html(cap)
        assert all(e in html for e in expected), (cell, html)
        assert not [p for p in PYTHON_OR_CLI if p in html], (cell, html)


def test_the_python_api_keeps_its_own_wording(live_url: str, ana_token: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TRUST_PROJECT", raising=False)
    with trust.Client(live_url, token=ana_token, progress=False) as client:
        with pytest.raises(trust.ConfigurationError, match=r"client\.projects\(\)"):
            client.sql("SELECT count(*) AS n FROM dwp.uc_claims")
        with pytest.raises(trust.UnknownName, match="`trust catalog list`") as caught:
            client.dataset("dwp.uc_claimz")
    magic = as_magic_error(caught.value)
    assert "`%trust_catalog`" in magic.message and type(magic) is trust.UnknownName
    assert "`trust catalog list`" in caught.value.message  # the copy is reworded, not the original


def test_each_catalogue_remedy_the_trust_writes_has_a_magic_wording():
    """The analyst's catalogue commands (and ``client.outputs()``) as the trust's messages name them, wherever."""
    remedies = {
        node.value
        for path in (REPO_ROOT / "trust").rglob("*.py")
        if path.name != "magic.py"  # its own patterns
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.search(r"(?<!`)`trust catalog (list|show)|client\.outputs\(\)", node.value)
    }
    assert len(remedies) >= 4  # resolve.py, catalog/model.py, engine/errors.py, client.py at least
    for text in remedies:
        assert not re.search(r"`trust catalog (list|show)|client\.outputs\(\)", in_magic_terms(text)), text


def test_without_a_server_or_a_token_the_magic_says_how_to_connect(
    shell: InteractiveShell, live_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("TRUST_URL")
    with capture_output() as cap:
        shell.run_cell("%%trust\nSELECT count(*) AS n FROM dwp.uc_claims")
    assert "Not connected to a trust server: run `%trust_connect https://…`" in _html(cap)
    assert not [p for p in PYTHON_OR_CLI if p in _html(cap)]
    monkeypatch.delenv("TRUST_TOKEN")
    with capture_output() as cap:
        shell.run_line_magic("trust_connect", live_url)
    assert f"No token for {live_url}: set TRUST_TOKEN before starting Jupyter" in _html(cap)
    assert f"`%trust_connect {live_url} --token …`" in _html(cap)
    assert not [p for p in PYTHON_OR_CLI if p in _html(cap)]


# -- {name} parameters ---------------------------------------------------------------------------
BY_AREA = "SELECT la_code, count(*) AS claimants FROM dwp.uc_claims WHERE region = {region} GROUP BY la_code"


def test_a_string_parameter_is_one_quoted_literal(shell: InteractiveShell, ana):
    shell.user_ns["region"] = "E12000009"
    shell.run_cell_magic("trust", "-o plain", BY_AREA)
    plain = shell.user_ns["plain"]
    assert plain.sql == BY_AREA.replace("{region}", "'E12000009'")
    assert plain.rows() and plain.rows() == ana.sql(plain.sql).rows()
    # A quote in the value stays inside the literal: no row matches, where the text as typed would match many.
    shell.user_ns["region"] = "E12000009' OR region <> 'x"
    shell.run_cell_magic("trust", "-o quoted", BY_AREA)
    quoted = shell.user_ns["quoted"]
    assert quoted.sql.endswith("WHERE region = 'E12000009'' OR region <> ''x' GROUP BY la_code")
    assert quoted.rows() == []
    assert len(ana.sql(BY_AREA.replace("{region}", "'E12000009' OR region <> 'x'")).rows()) > len(plain.rows())


def test_numbers_and_lists(shell: InteractiveShell, ana):
    sql = (
        "SELECT region, count(*) AS claimants FROM dwp.uc_claims\n"
        "WHERE region IN {regions} AND award_amount > {low} AND award_amount < {high} - {offset}\n"
        "GROUP BY region ORDER BY region"
    )
    shell.user_ns.update(regions=("E12000009", "E12000007"), low=0.00001, high=5000, offset=-100)
    shell.run_cell_magic("trust", "-o out", sql)
    out = shell.user_ns["out"]
    typed = "WHERE region IN ('E12000009', 'E12000007') AND award_amount > 0.00001 AND award_amount < 5000 - (-100)"
    assert out.sql.splitlines()[1] == typed
    assert [r[0] for r in out.rows()] == ["E12000007", "E12000009"]
    assert out.rows() == ana.sql(out.sql).rows()
    shell.user_ns["regions"] = ["E12000009"]
    shell.run_cell_magic("trust", "-o one", sql)
    assert [r[0] for r in shell.user_ns["one"].rows()] == ["E12000009"]


def test_braces_comments_and_refusals(shell: InteractiveShell, live_url: str, ana_token: str):
    shell.run_cell_magic(
        "trust", "-o out", "SELECT count(*) AS n FROM dwp.uc_claims\n-- {not_a_variable}\nWHERE la_code <> '{{x}}'"
    )
    assert shell.user_ns["out"].sql.endswith("-- {not_a_variable}\nWHERE la_code <> '{x}'")
    with trust.Client(live_url, token=ana_token, progress=False) as client:
        before = client.outputs()
    shell.user_ns.update(where={"region": "E12000009"}, empty=[], region="E12000009")
    cases = [
        ("WHERE region = {nowhere}", "No variable `nowhere` in this notebook for `{nowhere}` at line 1, column 56"),
        ("WHERE region = {where}", "a parameter must be a string, a number, or a list or tuple of them, not a dict"),
        ("WHERE region IN {empty}", "`{empty}` is an empty list"),
        ("WHERE region = '{region}'", "is inside quotes: leave the quotes out"),
        ("WHERE region = {region.upper()}", "is not a parameter"),
        ("WHERE {'a': 1} IS NOT NULL", "is not a parameter"),
        ("WHERE region = } ", "A lone `}`"),
    ]
    for where, expected in cases:
        with capture_output() as cap:
            shell.run_cell_magic("trust", "-o refused", f"SELECT count(*) AS n FROM dwp.uc_claims {where}")
        assert expected in _html(cap), (where, _html(cap))
        assert shell.user_ns["refused"] is None and "Traceback" not in cap.stdout + cap.stderr
    with trust.Client(live_url, token=ana_token, progress=False) as client:
        assert client.outputs() == before  # refused on the client: nothing reached the trust
