"""Rich HTML for Jupyter: the catalogue, lists of outputs, and refusals as messages.

Outputs render through ``trust.outputs.render`` (the same HTML embedded and over a client).
Everything shown is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable

from trust.client.catalogue import catalog_html, dataset_html
from trust.errors import NotAuthorised, PolicyDenied, QueryRejected, QueryTimeout, TrustError
from trust.outputs.output import OutputSummary
from trust.outputs.render import STYLE as _STYLE
from trust.outputs.render import datasets_line, output_html
from trust.outputs.render import escape as _e
from trust.outputs.render import html_table as _table

__all__ = ["catalog_html", "dataset_html", "datasets_line", "error_html", "output_html", "outputs_html"]


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
    return (
        f'{_STYLE}<div class="trust-refused"><strong>⛔ {_e(title)}</strong> '
        f'<span class="trust-meta">({_e(type(exc).__name__)})</span>{body}</div>'
    )


def outputs_html(outputs: Iterable[OutputSummary]) -> str:
    rows = [
        [
            f"<td><code>{_e(o.id)}</code></td>",
            f"<td>{_e(o.project)}</td>",
            f"<td>{_e(o.user)}</td>",
            f"<td>{_e(o.created)}</td>",
            f"<td>{_e(o.status)}</td>",
            f"<td>{_e(', '.join(o.datasets))}</td>",
        ]
        for o in outputs
    ]
    return (
        f'{_STYLE}<div class="trust-catalog">'
        + _table(["output", "project", "analyst", "created", "disclosure", "datasets"], rows)
        + "</div>"
    )
