"""A release request for people: as text (``trust release status``) and as HTML (Jupyter)."""

from __future__ import annotations

import html
from typing import Any

from trust.outputs.release_states import ReleaseState
from trust.outputs.render import render_text

ReleaseRequest = Any  # trust.outputs.release.ReleaseRequest, which renders itself with these functions

_MEANING = {
    ReleaseState.DRAFT: "not yet submitted",
    ReleaseState.SUBMITTED: "waiting for two output checkers",
    ReleaseState.UNDER_REVIEW: "approved by one checker; waiting for a second",
    ReleaseState.APPROVED: "the trust is building the bundle",
    ReleaseState.REJECTED: "an output checker rejected it; nothing was released",
    ReleaseState.RETURNED: "checkers asked for changes: edit it and resubmit",
    ReleaseState.RELEASED: "the bundle is ready for its author to download",
    ReleaseState.WITHDRAWN: "its author withdrew it",
}


def meaning(request: ReleaseRequest) -> str:
    text = _MEANING[request.state]
    if request.state in (ReleaseState.SUBMITTED, ReleaseState.UNDER_REVIEW):
        text += f" ({len(request.reviewers_this_round)} of 2 reviews done)"
    return text


def release_text(request: ReleaseRequest) -> str:
    lines = [
        f"{request.id}  {request.state.value}: {meaning(request)}",
        f"project {request.project}, requested by {request.author} on {request.created}"
        + (f", round {request.round}" if request.round > 1 else ""),
        f"justification: {request.justification}",
        "outputs:",
    ]
    for o in request.outputs:
        reasons = f" ({len(o.cell_reasons)} cells in review explained)" if o.cell_reasons else ""
        lines.append(f"  {o.output}{reasons}")
    if request.reviews:
        lines.append("reviews:")
        rows = [(r.round, r.reviewer, r.output, r.decision.value, r.comment) for r in request.reviews]
        lines += [
            "  " + line
            for line in render_text(
                ["round", "checker", "output", "decision", "comment"], rows, limit=1000
            ).splitlines()
        ]
    if request.history:
        lines.append("history:")
        lines += [f"  {h.ts}  {h.source or '-'} -> {h.target}  ({h.action}, {h.actor})" for h in request.history]
    if request.bundle_sha256:
        lines.append(f"bundle manifest sha256 {request.bundle_sha256}")
    return "\n".join(lines)


def release_html(request: ReleaseRequest) -> str:
    e = html.escape
    outputs = "".join(f"<li><code>{e(o.output)}</code></li>" for o in request.outputs)
    reviews = "".join(
        f"<tr><td>{r.round}</td><td>{e(r.reviewer)}</td><td><code>{e(r.output)}</code></td>"
        f"<td>{e(r.decision.value)}</td><td>{e(r.comment)}</td></tr>"
        for r in request.reviews
    )
    review_table = (
        (
            f"<table><thead><tr><th>round</th><th>checker</th><th>output</th><th>decision</th>"
            f"<th>comment</th></tr></thead><tbody>{reviews}</tbody></table>"
        )
        if reviews
        else ""
    )
    bundle = (
        f"<p><small>bundle manifest sha256 <code>{e(request.bundle_sha256)}</code></small></p>"
        if request.bundle_sha256
        else ""
    )
    return (
        f'<div class="trust-release"><p><strong>Release request <code>{e(request.id)}</code></strong>: '
        f'<span class="trust-release-state">{e(request.state.value)}</span> ({e(meaning(request))})</p>'
        f"<p>Project {e(request.project)}, requested by {e(request.author)}. "
        f"Justification: {e(request.justification)}</p><ul>{outputs}</ul>{review_table}{bundle}</div>"
    )
