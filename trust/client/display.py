"""Rich HTML for Jupyter: protected outputs, the catalogue, and refusals as messages.

Suppressed cells show the GSS symbol ``[c]``; under each table one line summarises disclosure
control, and one names the datasets read and the rows they hold. Everything shown is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from trust.client.catalogue import Catalogue, DatasetInfo
from trust.errors import NotAuthorised, PolicyDenied, QueryRejected, QueryTimeout, TrustError
from trust.outputs.output import Output, format_value
from trust.outputs.repository import OutputSummary
from trust.sdc.report import SUPPRESSED_MARKER

MAX_ROWS = 60
_STYLE = """<style>
.trust-output table, .trust-catalog table {border-collapse: collapse; font-variant-numeric: tabular-nums}
.trust-output th, .trust-output td, .trust-catalog th, .trust-catalog td {padding: 2px 8px; border-bottom: 1px solid #ddd}
.trust-output td.trust-num {text-align: right}
.trust-output td.trust-suppressed {text-align: right; color: #a00; background: #fbeaea}
.trust-meta {color: #555; font-size: 90%; margin: 4px 0}
.trust-refused {border-left: 4px solid #c00; background: #fdf2f2; padding: 6px 10px}
.trust-role-linkage_key {color: #06c} .trust-role-direct_identifier {color: #a00} .trust-role-measure {color: #070}
</style>"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(rows_)}</tr>" for rows_ in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def output_summary_line(out: Output) -> str:
    return out.report.summary()


def datasets_line(out: Output) -> str:
    """'datasets read: dwp.uc_claims (10,021 rows), hmrc.paye_employments (114,184 rows); 124,205 rows scanned'."""
    counts = dict(out.stats.get("datasets") or {})
    parts = [f"{d} ({counts[d]:,} rows)" if counts.get(d) is not None else d for d in sorted(out.fingerprints)]
    scanned = out.stats.get("rows_scanned")
    tail = f"; {scanned:,} rows scanned" if scanned else ""
    return f"datasets read: {', '.join(parts)}{tail}"


def output_html(out: Output) -> str:
    rows = out.rows()
    shown = []
    for row in rows[:MAX_ROWS]:
        cells = []
        for value in row:
            if value == SUPPRESSED_MARKER:
                cells.append(f'<td class="trust-suppressed" title="suppressed by disclosure control">{SUPPRESSED_MARKER}</td>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="trust-num">{_e(format_value(value))}</td>')
            else:
                cells.append(f"<td>{_e(format_value(value))}</td>")
        shown.append(cells)
    more = f'<p class="trust-meta">… {len(rows) - MAX_ROWS:,} more rows (out.to_pandas() has them all)</p>' \
        if len(rows) > MAX_ROWS else ""
    elapsed = out.stats.get("elapsed_s")
    timing = f" · {elapsed:.2f} s" if isinstance(elapsed, (int, float)) else ""
    return (
        f'{_STYLE}<div class="trust-output">{_table((_e(c) for c in out.columns), shown)}{more}'
        f'<p class="trust-meta trust-disclosure">🛡 {_e(output_summary_line(out))}</p>'
        f'<p class="trust-meta trust-datasets">{_e(datasets_line(out))}{timing} · output {_e(out.id)} '
        f"({_e(out.project)})</p></div>"
    )


def error_html(exc: TrustError) -> str:
    """A refusal as a message a person can act on: the rule, what it said, where in the SQL."""
    if isinstance(exc, PolicyDenied):
        title = "Refused by policy"
        items = "".join(f"<li><code>{_e(d.get('rule'))}</code>: {_e(d.get('message'))}</li>" for d in exc.denials or ())
        body = f"<ul>{items}</ul>" if items else f"<p>{_e(exc.message)}</p>"
    else:
        if isinstance(exc, QueryRejected):
            title = "Query not accepted"
        elif isinstance(exc, QueryTimeout):
            title = "Query stopped at its time limit"
        elif isinstance(exc, NotAuthorised):
            title = "Not allowed"
        else:
            title = "The trust could not do this"
        body = f"<p>{_e(exc.message)}</p>"
        rule = exc.context.get("rule")
        if rule:
            body += f'<p class="trust-meta">rule <code>{_e(rule)}</code></p>'
    return (f'{_STYLE}<div class="trust-refused"><strong>⛔ {_e(title)}</strong> '
            f'<span class="trust-meta">({_e(type(exc).__name__)})</span>{body}</div>')


def catalog_html(catalogue: Catalogue) -> str:
    rows = [[f"<td><code>{_e(d.id)}</code></td>", f"<td>{_e(d.department)}</td>", f"<td>{_e(d.title)}</td>",
             f'<td class="trust-num">{_e(format_value(d.rows))}</td>', f"<td>{len(d.columns)}</td>",
             f"<td>{_e(', '.join(d.usable_by) or '—')}</td>"] for d in catalogue]
    scope = f" for project {_e(catalogue.project)}" if catalogue.project else ""
    return (f'{_STYLE}<div class="trust-catalog"><p><strong>Catalogue{scope}</strong>: {len(catalogue)} datasets</p>'
            + _table(["dataset", "department", "title", "rows", "columns", "usable by your projects"], rows)
            + '<p class="trust-meta">%trust_catalog DATASET shows its columns and roles.</p></div>')


def dataset_html(ds: DatasetInfo) -> str:
    rows = [[f"<td><code>{_e(c.name)}</code></td>", f"<td>{_e(c.type or '')}</td>",
             f'<td class="trust-role-{_e(c.role)}">{_e(c.role)}</td>', f"<td>{_e(c.description)}</td>",
             f"<td>{_e(', '.join(c.flags))}</td>"] for c in ds.columns]
    rows_line = f" · {ds.rows:,} rows" if ds.rows is not None else ""
    return (f'{_STYLE}<div class="trust-catalog"><p><strong>{_e(ds.id)}</strong>: {_e(ds.title)} ({_e(ds.department)})'
            f'{rows_line} · unit <code>{_e(ds.unit_key)}</code></p><p class="trust-meta">{_e(ds.description)}</p>'
            + _table(["column", "type", "role", "description", "flags"], rows)
            + f'<p class="trust-meta">usable by your projects: {_e(", ".join(ds.usable_by) or "none")}. '
              "Roles: dimension (group, filter), measure (aggregate), linkage_key (joins and count(DISTINCT …)), "
              "direct_identifier (never).</p></div>")


def outputs_html(outputs: Iterable[OutputSummary]) -> str:
    rows = [[f"<td><code>{_e(o.id)}</code></td>", f"<td>{_e(o.project)}</td>", f"<td>{_e(o.user)}</td>",
             f"<td>{_e(o.created)}</td>", f"<td>{_e(o.status)}</td>", f"<td>{_e(', '.join(o.datasets))}</td>"]
            for o in outputs]
    return (f'{_STYLE}<div class="trust-catalog">'
            + _table(["output", "project", "analyst", "created", "disclosure", "datasets"], rows) + "</div>")
