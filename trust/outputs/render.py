"""How an output looks to a person: as text (terminal, ``str(out)``), as HTML (Jupyter) and as CSV.

One renderer for embedded and client outputs. Suppressed cells show the GSS symbol ``[c]`` (only
in these views: ``out.to_pandas()`` holds numbers, missing where suppressed), and every number is
``rounded`` by one function whichever the view. Under each table one line summarises disclosure
control, and one names the datasets read and the rows they hold. Everything shown in HTML is escaped.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any, Protocol

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from trust.sdc.report import SUPPRESSED_MARKER, DisclosureReport

MAX_HTML_ROWS = 60
DECIMALS = 2  # fractions in every view: HTML, text, CSV (and the terminal)
STYLE = """<style>
.trust-output table, .trust-catalog table {border-collapse: collapse; font-variant-numeric: tabular-nums}
.trust-output th, .trust-output td, .trust-catalog th, .trust-catalog td {padding: 2px 8px; border-bottom: 1px solid #ddd}
.trust-output td.trust-num {text-align: right}
.trust-output td.trust-suppressed {text-align: right; color: #a00; background: #fbeaea}
.trust-meta {color: #555; font-size: 90%; margin: 4px 0}
.trust-refused {border-left: 4px solid #c00; background: #fdf2f2; padding: 6px 10px}
.trust-role-linkage_key {color: #06c} .trust-role-direct_identifier {color: #a00} .trust-role-measure {color: #070}
</style>"""


class Shown(Protocol):
    """What rendering needs of an output (``trust.outputs.output.Output``)."""

    @property
    def id(self) -> str: ...

    @property
    def project(self) -> str: ...

    @property
    def report(self) -> DisclosureReport: ...

    @property
    def fingerprints(self) -> Mapping[str, str]: ...

    @property
    def stats(self) -> Mapping[str, Any]: ...

    @property
    def columns(self) -> list[str]: ...

    def rows(self, marker: str | None = ...) -> list[tuple[Any, ...]]: ...


def rounded(value: Any) -> Any:
    """A number as every view shows it (HTML, text, CSV, XLSX): fractions to ``DECIMALS`` places, so the
    noise of floating point (``1234.5600000001``) never reaches a person; whole numbers as they are."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, DECIMALS) if math.isfinite(value) else value
    return value


def format_value(value: Any, *, thousands: bool = True) -> str:
    """How a cell is shown: ``rounded``, with thousands separators (not in CSV), blank for null.

    >>> format_value(1234.5600000001), format_value(1234.5600000001, thousands=False), format_value(1234567)
    ('1,234.56', '1234.56', '1,234,567')
    """
    if value is None:
        return ""
    value = rounded(value)
    if isinstance(value, float):
        return f"{value:,.{DECIMALS}f}" if thousands else f"{value:.{DECIMALS}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if thousands else str(value)
    return str(value)


def render_text(columns: list[str], rows: list[tuple[Any, ...]], *, footer: str = "", limit: int = 40) -> str:
    shown = [[format_value(v) for v in row] for row in rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)) for r in shown]
    if len(rows) > limit:
        out.append(f"... {len(rows) - limit} more rows")
    if footer:
        out.append(footer)
    return "\n".join(out)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit() or text == SUPPRESSED_MARKER


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def result_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A protected result as a ``rich`` table: numbers right-aligned and rounded as in HTML, suppressed
    cells ``[c]``. Every cell is plain ``Text``: a value is never read as markup."""
    return next(result_tables(columns, rows, chunk=max(len(rows), 1)))


def result_tables(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, chunk: int = 200) -> Iterator[Table]:
    """``result_table`` in pieces of ``chunk`` rows that line up as one (the same column widths, the
    header on the first), so a long result streams: the first rows show at once, and a reader that
    stops early (``| head``) stops the rendering too."""
    cells = [
        [Text(SUPPRESSED_MARKER, style="red") if v == SUPPRESSED_MARKER else Text(format_value(v)) for v in row]
        for row in rows
    ]
    numeric = [
        any(_is_number(row[i]) or row[i] == SUPPRESSED_MARKER for row in rows)
        and all(_is_number(row[i]) or row[i] in (SUPPRESSED_MARKER, None) for row in rows)
        for i in range(len(columns))
    ]
    widths = [max([cell_len(name)] + [row[i].cell_len for row in cells]) for i, name in enumerate(columns)]
    for start in range(0, max(len(cells), 1), chunk):
        table = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
            show_header=start == 0,
            header_style="bold",
            highlight=False,
        )
        for name, is_numeric, width in zip(columns, numeric, widths):
            table.add_column(Text(name), justify="right" if is_numeric else "left", no_wrap=is_numeric, width=width)
        for row in cells[start : start + chunk]:
            table.add_row(*row)
        yield table


def result_text(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, footer: str = "", limit: int = 40) -> str:
    """``result_table`` as plain text (``str(out)``): no colour, as wide as its content."""
    sink = io.StringIO()
    console = Console(file=sink, width=100_000, color_system=None, highlight=False, markup=False, emoji=False)
    console.print(result_table(columns, rows[:limit]))
    lines = [line.rstrip() for line in sink.getvalue().splitlines()]
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows")
    if footer:
        lines.append(footer)
    return "\n".join(lines)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], sink: IO[str]) -> None:
    """A protected result as CSV: numbers ``rounded`` as in HTML (without thousands separators),
    suppressed cells ``[c]``, nulls empty."""
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(v, thousands=False) for v in row])


def escape(value: Any) -> str:
    return html.escape(str(value))


def html_table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def datasets_line(out: Shown) -> str:
    """'datasets read: dwp.uc_claims (10,021 rows), hmrc.paye_employments (114,184 rows); 124,205 rows scanned'."""
    counts = dict(out.stats.get("datasets") or {})
    parts = [f"{d} ({counts[d]:,} rows)" if counts.get(d) is not None else d for d in sorted(out.fingerprints)]
    scanned = out.stats.get("rows_scanned")
    tail = f"; {scanned:,} rows scanned" if scanned else ""
    return f"datasets read: {', '.join(parts)}{tail}"


def output_html(out: Shown) -> str:
    rows = out.rows()
    shown = []
    for row in rows[:MAX_HTML_ROWS]:
        cells = []
        for value in row:
            if value == SUPPRESSED_MARKER:
                cells.append(
                    f'<td class="trust-suppressed" title="suppressed by disclosure control">{SUPPRESSED_MARKER}</td>'
                )
            elif _is_number(value):
                cells.append(f'<td class="trust-num">{escape(format_value(value))}</td>')
            else:
                cells.append(f"<td>{escape(format_value(value))}</td>")
        shown.append(cells)
    more = (
        f'<p class="trust-meta">… {len(rows) - MAX_HTML_ROWS:,} more rows (out.to_pandas() has them all)</p>'
        if len(rows) > MAX_HTML_ROWS
        else ""
    )
    elapsed = out.stats.get("elapsed_s")
    timing = f" · {elapsed:.2f} s" if isinstance(elapsed, (int, float)) else ""
    return (
        f'{STYLE}<div class="trust-output">{html_table((escape(c) for c in out.columns), shown)}{more}'
        f'<p class="trust-meta trust-disclosure">🛡 {escape(out.report.summary())}</p>'
        f'<p class="trust-meta trust-datasets">{escape(datasets_line(out))}{timing} · output {escape(out.id)} '
        f"({escape(out.project)})</p></div>"
    )
