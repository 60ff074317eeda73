"""The release API (bearer token), over the service's airlock methods.

    POST  /v1/releases                   {outputs, justification, cell_reasons?, submit?}: 201 with the request
    GET   /v1/releases[?project=&state=] the requests I may see, most recently changed first
    GET   /v1/releases/{id}              one request: state, outputs, reviews I may see, history
    PATCH /v1/releases/{id}              {justification?, cell_reasons?, outputs?}: while draft or returned
    POST  /v1/releases/{id}/submit       submit a draft, or resubmit a returned request
    POST  /v1/releases/{id}/withdraw     the author withdraws it
    POST  /v1/releases/{id}/reviews      an output checker's review: {decisions: {output: {decision, comment}}}
    POST  /v1/releases/{id}/replace      {output, by, cell_reasons?}: a corrected output, while returned
    GET   /v1/releases/{id}/comments     the comments I may read, oldest first (threads: parent)
    POST  /v1/releases/{id}/comments     {body, output?, cell?, reply_to?, checkers_only?}
    GET   /v1/releases/{id}/rounds       what each round asked the checkers to review
    GET   /v1/releases/{id}/diff[?since=N]  what changed since round N (default: the last I reviewed)
    GET   /v1/releases/{id}/bundle       the released bundle (zip), for its author; the download is audited

A submission or a review may carry an ``Idempotency-Key``: a retry with the same key returns the
first result (the request as it then is) instead of making another.

An id the caller may not see, of a request or of an output, is answered as one that does not
exist (404, the same message), whatever the route; so no answer tells an outsider an id is real.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from trust.errors import TrustError
from trust.outputs.release import ReleaseRequest, ReleaseState
from trust.service import Trust


class NewRelease(BaseModel):
    outputs: list[str] = Field(min_length=1, max_length=100)
    justification: str = Field(max_length=10_000)
    cell_reasons: dict[str, dict[str, str]] = Field(default_factory=dict)
    submit: bool = True


class ReleaseChange(BaseModel):
    justification: str | None = Field(default=None, max_length=10_000)
    cell_reasons: dict[str, dict[str, str]] | None = None
    outputs: list[str] | None = Field(default=None, max_length=100)


class Decision(BaseModel):
    decision: str = Field(max_length=20)
    comment: str = Field(default="", max_length=10_000)


class NewReview(BaseModel):
    decisions: dict[str, Decision]


class Replacement(BaseModel):
    output: str = Field(max_length=100)
    by: str = Field(max_length=100)
    cell_reasons: dict[str, str] = Field(default_factory=dict)


class NewComment(BaseModel):
    body: str = Field(max_length=10_000)
    output: str | None = Field(default=None, max_length=100)
    cell: str | None = Field(default=None, max_length=300)
    reply_to: str | None = Field(default=None, max_length=100)
    checkers_only: bool = False


def _states(text: str) -> list[ReleaseState]:
    try:
        return [ReleaseState(s.strip()) for s in text.split(",")]
    except ValueError:
        raise TrustError(f"Unknown state in {text!r}; states are {', '.join(s.value for s in ReleaseState)}.") from None


def _json(request: ReleaseRequest, status: int = 200) -> JSONResponse:
    return JSONResponse(request.to_json(), status_code=status)


def add_release_routes(app: FastAPI, trust: Trust) -> None:
    def me(request: Request) -> str:
        return str(request.state.user.name)

    def visible(request: Request, request_id: str) -> str:
        """The caller, once the request is one they may see (else the 404 of one that does not exist)."""
        user = me(request)
        trust.airlock.get(user, request_id)
        return user

    @app.post("/v1/releases")
    def create(request: Request, body: NewRelease) -> JSONResponse:
        for output_id in dict.fromkeys(body.outputs):  # another project's output: as if it did not exist
            trust.queries.output(me(request), output_id)
        key = request.headers.get("idempotency-key")
        made = trust.airlock.request(
            me(request),
            body.outputs,
            body.justification,
            cell_reasons=body.cell_reasons,
            submit=body.submit,
            key=key[:200] if key else None,
        )
        return _json(made, 201)

    @app.get("/v1/releases")
    def listing(request: Request, project: str | None = None, state: str | None = None) -> dict[str, Any]:
        states = _states(state) if state else None
        return {"releases": [r.to_json() for r in trust.airlock.list(me(request), project=project, states=states)]}

    @app.get("/v1/releases/{request_id}")
    def one(request: Request, request_id: str) -> JSONResponse:
        return _json(trust.airlock.get(me(request), request_id))

    @app.patch("/v1/releases/{request_id}")
    def change(request: Request, request_id: str, body: ReleaseChange) -> JSONResponse:
        return _json(
            trust.airlock.edit(
                visible(request, request_id),
                request_id,
                justification=body.justification,
                cell_reasons=body.cell_reasons,
                outputs=body.outputs,
            )
        )

    @app.post("/v1/releases/{request_id}/submit")
    def submit(request: Request, request_id: str) -> JSONResponse:
        return _json(trust.airlock.submit(visible(request, request_id), request_id))

    @app.post("/v1/releases/{request_id}/withdraw")
    def withdraw(request: Request, request_id: str) -> JSONResponse:
        return _json(trust.airlock.withdraw(visible(request, request_id), request_id))

    @app.post("/v1/releases/{request_id}/reviews")
    def review(request: Request, request_id: str, body: NewReview) -> JSONResponse:
        decisions = {o: (d.decision, d.comment) for o, d in body.decisions.items()}
        key = request.headers.get("idempotency-key")
        return _json(
            trust.airlock.review(visible(request, request_id), request_id, decisions, key=key[:200] if key else None)
        )

    @app.post("/v1/releases/{request_id}/replace")
    def replace_output(request: Request, request_id: str, body: Replacement) -> JSONResponse:
        user = visible(request, request_id)
        trust.queries.output(user, body.by)  # another project's output: as if it did not exist
        return _json(
            trust.airlock.replace(user, request_id, body.output, body.by, cell_reasons=body.cell_reasons or None)
        )

    @app.get("/v1/releases/{request_id}/comments")
    def comments(request: Request, request_id: str) -> dict[str, Any]:
        return {"comments": [c.to_json() for c in trust.airlock.comments(me(request), request_id)]}

    @app.post("/v1/releases/{request_id}/comments")
    def comment(request: Request, request_id: str, body: NewComment) -> JSONResponse:
        made = trust.airlock.comment(
            visible(request, request_id),
            request_id,
            body.body,
            output=body.output,
            cell=body.cell,
            reply_to=body.reply_to,
            checkers_only=body.checkers_only,
        )
        return JSONResponse(made.to_json(), status_code=201)

    @app.get("/v1/releases/{request_id}/rounds")
    def rounds(request: Request, request_id: str) -> dict[str, Any]:
        return {"rounds": [r.to_json() for r in trust.airlock.rounds(me(request), request_id)]}

    @app.get("/v1/releases/{request_id}/diff")
    def diff(request: Request, request_id: str, since: int | None = None) -> dict[str, Any]:
        return trust.airlock.diff(me(request), request_id, since=since).to_json()

    @app.get("/v1/releases/{request_id}/bundle")
    def bundle(request: Request, request_id: str) -> FileResponse:
        path = trust.airlock.archive(me(request), request_id)
        return FileResponse(
            path,
            media_type="application/zip",
            filename=path.name,
            headers={"X-Trust-Release": request_id, "Cache-Control": "no-store"},
        )
