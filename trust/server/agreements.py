"""Data-sharing applications over the API (bearer token), and the public register of agreements.

    POST /v1/applications                   a draft: {project, title, purpose, legal_gateway, sponsor, datasets,
                                            members, outputs, expires, dpia?, amends?}; 201, with the guidance
    GET  /v1/applications[?state=]          the applications I may see
    GET  /v1/applications/{id}              one, with its decisions, what it waits for and the guidance
    PUT  /v1/applications/{id}              change my draft
    POST /v1/applications/{id}/submit       send it to the data owners (refused while anything blocks it)
    POST /v1/applications/{id}/withdraw
    POST /v1/applications/{id}/decisions    a data owner's decision: {decision, conditions?, note?}
    GET  /v1/agreements/{project}           every version of a project's agreement, with what changed

    GET  /register, /register.json, /register.csv   the public register: no sign-in, no personal data

An application the caller may not see is answered as one that does not exist (404).
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from trust.server.guard import admit
from trust.service import Trust
from trust.service.agreements import register_csv

PUBLIC_PATHS = frozenset({"/register", "/register.json", "/register.csv"})


class Decided(BaseModel):
    decision: str = Field(max_length=20)
    conditions: dict[str, Any] = Field(default_factory=dict)
    note: str = Field(default="", max_length=5000)


def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS


def add_agreement_routes(app: FastAPI, trust: Trust) -> None:
    def me(request: Request) -> str:
        return str(request.state.user.name)

    @app.post("/v1/applications")
    def draft(request: Request, body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(trust.agreements.draft(me(request), body).to_json(), status_code=201)

    @app.get("/v1/applications")
    def listing(request: Request, state: str | None = None) -> dict[str, Any]:
        states = tuple(s.strip() for s in state.split(",")) if state else ()
        return {"applications": [a.to_json() for a in trust.agreements.list(me(request), states=states)]}

    @app.get("/v1/applications/{application_id}")
    def one(request: Request, application_id: str) -> dict[str, Any]:
        return trust.agreements.get(me(request), application_id).to_json()

    @app.put("/v1/applications/{application_id}")
    def change(request: Request, application_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return trust.agreements.draft(me(request), body, application_id=application_id).to_json()

    @app.post("/v1/applications/{application_id}/submit")
    def submit(request: Request, application_id: str) -> dict[str, Any]:
        return trust.agreements.submit(me(request), application_id).to_json()

    @app.post("/v1/applications/{application_id}/withdraw")
    def withdraw(request: Request, application_id: str) -> dict[str, Any]:
        return trust.agreements.withdraw(me(request), application_id).to_json()

    @app.post("/v1/applications/{application_id}/decisions")
    def decide(request: Request, application_id: str, body: Decided) -> dict[str, Any]:
        return trust.agreements.decide(
            me(request), application_id, body.decision, conditions=body.conditions, note=body.note
        ).to_json()

    @app.get("/v1/agreements/{project}")
    def history(request: Request, project: str) -> dict[str, Any]:
        return {"project": project, "versions": trust.agreements.history(me(request), project)}

    # -- the public register: no sign-in -----------------------------------------------------------------
    @app.get("/register.json", include_in_schema=False)
    def register_json(request: Request) -> JSONResponse:
        admit(request.scope, "public")
        return JSONResponse({"agreements": [e.to_json() for e in trust.agreements.register()]})

    @app.get("/register.csv", include_in_schema=False)
    def register_as_csv(request: Request) -> Response:
        admit(request.scope, "public")
        return Response(
            register_csv(trust.agreements.register()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="register.csv"'},
        )

    @app.get("/register", include_in_schema=False)
    def register_page(request: Request) -> HTMLResponse:
        admit(request.scope, "public")
        entries = trust.agreements.register()
        e = html.escape
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{e(str(v))}</td>"
                for v in (
                    x.project,
                    x.title,
                    ", ".join(x.departments),
                    ", ".join(x.datasets),
                    ", ".join(x.shared_with),
                    x.purpose,
                    f"{x.legal_gateway} ({x.gateway_citation})" if x.gateway_citation else x.legal_gateway,
                    x.outputs,
                    x.approved,
                    x.expires,
                )
            )
            + "</tr>"
            for x in entries
        )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Register of data-sharing agreements'
            "</title></head><body><main><h1>Register of data-sharing agreements</h1>"
            "<p>Every agreement in force under which the Labour Market Data Trust shares departments' data: what "
            "is shared, by whom, with whom, why, under which legal gateway, and until when (Digital Economy Act "
            '2017 code of practice). Also as <a href="/register.json">JSON</a> and '
            '<a href="/register.csv">CSV</a>.</p>'
            '<table id="register"><caption>Agreements in force</caption><thead><tr>'
            + "".join(
                f'<th scope="col">{h}</th>'
                for h in (
                    "Project",
                    "Title",
                    "Shared by",
                    "Data",
                    "Shared with",
                    "Purpose",
                    "Legal gateway",
                    "Intended outputs",
                    "Approved",
                    "Until",
                )
            )
            + f"</tr></thead><tbody>{rows}</tbody></table>"
            + ("" if entries else "<p>No agreements are in force.</p>")
            + "</main></body></html>"
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'self'"})
