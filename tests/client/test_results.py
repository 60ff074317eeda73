"""Results as numbers: ``to_pandas()`` holds published values in nullable numeric columns, missing
where a cell is suppressed, with the mask beside it; ``[c]`` and rounding belong to the views.

Each test runs a real query, embedded and through a client talking to a real server on loopback.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable

import pandas as pd
import pytest
from openpyxl import load_workbook

import trust
from trust.outputs.bundle import table_xlsx
from trust.outputs.output import Output
from trust.sdc.report import SUPPRESSED_MARKER
from trust.service import Trust

PROJECT = "demo-employment-support"
# Two businesses hold most of some sections' turnover: rows with [c] beside published counts; the
# means are fractions, so every view has to round them.
SECTORS = (
    "SELECT sic_section, count(*) AS businesses, sum(turnover) AS turnover, avg(turnover) AS mean_turnover "
    "FROM desnz.businesses GROUP BY sic_section ORDER BY sic_section"
)

Run = Callable[[str], Output]


@pytest.fixture(params=["embedded", "client"])
def run(request: pytest.FixtureRequest, trust: Trust) -> Run:
    if request.param == "embedded":
        return trust.session("ana", PROJECT).sql
    url = request.getfixturevalue("live_url")
    client = trust_client(url, request.getfixturevalue("ana_token"))
    request.addfinalizer(client.close)
    return client.sql


def trust_client(url: str, token: str) -> trust.Client:
    return trust.Client(url, token=token, project=PROJECT, progress=False)


def withheld(out: Output) -> set[tuple[int, str]]:
    """The cells the trust says it withheld, from the Arrow metadata (independent of ``to_pandas``)."""
    meta = json.loads(out.to_arrow().schema.metadata[b"trust.suppressed"])
    return {(r, name) for name, rows in meta.items() for r in rows}


def test_a_result_with_suppressed_cells_adds_up(run: Run):
    out = run(SECTORS)
    df, mask = out.to_pandas(), out.suppressed_frame()
    hidden = withheld(out)
    assert hidden, "the query must hide something for this test to mean anything"

    assert mask.shape == df.shape and list(mask.columns) == list(df.columns) == out.columns
    assert mask.index.equals(df.index) and all(str(dtype) == "bool" for dtype in mask.dtypes)
    assert {(r, name) for name in mask.columns for r in mask.index[mask[name]]} == hidden
    assert {(r, out.columns[c]) for r, row in enumerate(out.rows()) for c, v in enumerate(row)
            if v == SUPPRESSED_MARKER} == hidden  # fmt: skip

    assert str(df["businesses"].dtype) == "Int64"
    assert str(df["turnover"].dtype) == str(df["mean_turnover"].dtype) == "Float64"
    assert not df.isin([SUPPRESSED_MARKER]).any().any()
    assert df.isna().equals(mask)  # missing exactly where withheld (no published value is null here)

    published = [row[2] for row in out.rows() if row[2] != SUPPRESSED_MARKER]
    assert df["turnover"].sum() == pytest.approx(sum(published))
    assert df["businesses"].sum() == sum(row[1] for row in out.rows())
    totals = df.sum()  # strings concatenate, numbers add; none of it raises
    assert totals["turnover"] == pytest.approx(sum(published))
    assert df.sum(numeric_only=True)["mean_turnover"] == pytest.approx(df["mean_turnover"].dropna().sum())


def test_embedded_and_client_frames_agree(trust: Trust, live_url: str, ana_token: str):
    embedded = trust.session("ana", PROJECT).sql(SECTORS)
    with trust_client(live_url, ana_token) as client:
        remote = client.sql(SECTORS)
    pd.testing.assert_frame_equal(remote.to_pandas(), embedded.to_pandas())
    pd.testing.assert_frame_equal(remote.suppressed_frame(), embedded.suppressed_frame())


def _html_cells(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def _text_cells(text: str, width: int) -> list[list[str]]:
    lines = text.splitlines()
    assert set(lines[1].strip()) <= {"─", "-", "━"}, "a rule under the header"
    return [line.split() for line in lines[2:] if len(line.split()) == width]


def _csv_text(out: Output) -> str:
    from trust.outputs.render import write_csv

    sink = io.StringIO()
    write_csv(out.columns, out.rows(), sink)
    return sink.getvalue()


def test_every_view_shows_c_and_rounds_like_the_html_table(run: Run):
    out = run(SECTORS)
    hidden = withheld(out)
    shown_html = _html_cells(out._repr_html_())
    shown_text = _text_cells(str(out), len(out.columns))
    shown_csv = list(csv.reader(io.StringIO(_csv_text(out))))[1:]
    assert len(shown_html) == len(shown_text) == len(shown_csv) == len(out.rows())

    fractions = 0
    for r, row in enumerate(out.rows()):
        for c, name in enumerate(out.columns):
            cells = shown_html[r][c], shown_text[r][c], shown_csv[r][c]
            if (r, name) in hidden:
                assert cells == (SUPPRESSED_MARKER,) * 3
                continue
            assert SUPPRESSED_MARKER not in cells
            assert shown_text[r][c] == shown_html[r][c]  # the terminal shows what the notebook shows
            assert shown_csv[r][c] == shown_html[r][c].replace(",", "")  # without thousands separators
            if isinstance(row[c], float):
                fractions += 1
                assert re.fullmatch(r"-?\d+\.\d\d", shown_csv[r][c]), shown_csv[r][c]
                assert abs(float(shown_csv[r][c]) - row[c]) <= 0.005 + 1e-9
    assert fractions, "the means are fractions: the rounding must have been exercised"

    sheet = load_workbook(io.BytesIO(table_xlsx(out)))["table"]
    values = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert {(r, out.columns[c]) for r, row in enumerate(values) for c, v in enumerate(row)
            if v == SUPPRESSED_MARKER} == hidden  # fmt: skip


def test_float_noise_never_reaches_a_view():
    """A published mean carrying binary noise (1234.5600000001) reads 1234.56 in every view."""
    import pyarrow as pa

    from trust.sdc.parameters import Parameters
    from trust.sdc.report import CellReport, CellStatus, DisclosureReport

    table = pa.table({"region": ["E12000001", "E12000002"], "mean_pay": pa.array([1234.5600000001, None])})
    cells = (
        CellReport(0, "mean_pay", CellStatus.OK, units=40),
        CellReport(1, "mean_pay", CellStatus.SUPPRESSED, "min_units", units=3),
    )
    report = DisclosureReport(cells, Parameters())
    out = Output(
        "out-noise", "ana", PROJECT, "now", "SELECT ...", "", table,
        report.mask(table.column_names, table.num_rows), report, {}, {"dwp.uc_claims": "f" * 64},
    ).for_analyst()  # fmt: skip

    assert "1234.5600000001" not in str(out) + out._repr_html_() + _csv_text(out)
    assert _html_cells(out._repr_html_()) == [["E12000001", "1,234.56"], ["E12000002", SUPPRESSED_MARKER]]
    assert _text_cells(str(out), 2) == [["E12000001", "1,234.56"], ["E12000002", SUPPRESSED_MARKER]]
    assert _csv_text(out).splitlines() == ["region,mean_pay", "E12000001,1234.56", f"E12000002,{SUPPRESSED_MARKER}"]
    df = out.to_pandas()
    assert df["mean_pay"].tolist()[0] == 1234.5600000001 and df["mean_pay"].isna().tolist() == [False, True]
