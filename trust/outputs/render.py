"""How an output looks to a person: as text (terminal, ``str(out)``) and as HTML (Jupyter).

One renderer for embedded and client outputs. Suppressed cells show the GSS symbol ``[c]``;
under each table one line summarises disclosure control, and one names the datasets read and
the rows they hold. Everything shown in HTML is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from trust.sdc.report import SUPPRESSED_MARKER, DisclosureReport

MAX_HTML_ROWS = 60
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


def format_value(value: Any) -> str:
    """How a cell is shown: thousands separators, two decimals for fractions, blank for null."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
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
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
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
